import type { PathPattern } from '../routing/path-pattern.ts';

/** A segment that names one thing among many: a number, a UUID, a long hex or token-like string. */
const ID_SEGMENT = /^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|[A-Za-z0-9_-]*\d[A-Za-z0-9_-]{15,})$/i;

/** The longest template, characters: it is part of the store's keys, and an index row has a size limit. */
export const MAX_TEMPLATE_CHARS = 200;
/** Segments of a wildcard's tail kept in a template; deeper ones are `*`. */
const MAX_TAIL_SEGMENTS = 6;
/** A tail segment longer than this (characters) is taken for an id: endpoints are not named that long. */
const MAX_SEGMENT_CHARS = 32;

/**
 * The template a request is counted under: the route's own pattern with the request's segments put
 * in (`/api/listings/:id?` and `/api/listings/17` → `/api/listings/:id`), the query dropped. Only a
 * wildcard's tail comes from the request, with ids (and over-long segments) replaced by `:id` and at
 * most a few segments deep. Without a pattern, the whole path is such a tail. Differences are
 * reported per template, so one endpoint is one line however many ids it is called with; and a
 * template is never longer than MAX_TEMPLATE_CHARS, whatever the client sends.
 */
export function pathTemplate(path: string, pattern?: PathPattern): string {
  const q = path.indexOf('?');
  const segments = (q < 0 ? path : path.slice(0, q)).split('/').filter(Boolean);
  const source = pattern?.source.split('/').filter(Boolean) ?? ['*'];
  const out: string[] = [];
  let tail: string[] = [];
  for (let i = 0; i < source.length; i++) {
    const part = source[i]!;
    if (part === '*') {
      tail = segments.slice(i).map((s) => (ID_SEGMENT.test(s) || s.length > MAX_SEGMENT_CHARS ? ':id' : s));
      if (tail.length > MAX_TAIL_SEGMENTS) tail = [...tail.slice(0, MAX_TAIL_SEGMENTS), '*'];
      break;
    }
    if (part.endsWith('?') && segments[i] === undefined) break;
    out.push(part.endsWith('?') ? part.slice(0, -1) : part);
  }
  const fixed = out.length ? `/${out.join('/')}` : '';
  // The tail gives up its last segments (for a `*`) until the whole fits.
  for (;;) {
    const whole = tail.length ? `${fixed}/${tail.join('/')}` : fixed || '/';
    if (whole.length <= MAX_TEMPLATE_CHARS || !tail.length) return whole.slice(0, MAX_TEMPLATE_CHARS);
    tail = tail.length === 1 ? [] : [...tail.slice(0, tail.at(-1) === '*' ? -2 : -1), '*'];
  }
}
