/** A segment that names one thing among many: a number, a UUID, a long hex or token-like string. */
const ID_SEGMENT = /^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|[A-Za-z0-9_-]*\d[A-Za-z0-9_-]{15,})$/i;

/**
 * The path with its ids replaced by `:id`, the query dropped: `/api/listings/17?x=1` and
 * `/api/listings/42` are both `/api/listings/:id`. Differences are reported per template, so one
 * endpoint is one line however many ids it is called with.
 */
export function pathTemplate(path: string): string {
  const q = path.indexOf('?');
  const bare = q < 0 ? path : path.slice(0, q);
  return bare
    .split('/')
    .map((s) => (s && ID_SEGMENT.test(s) ? ':id' : s))
    .join('/');
}
