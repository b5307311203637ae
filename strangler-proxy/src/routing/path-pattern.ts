/**
 * Route path patterns: `/api/listings` (literal), `/api/listings/:id` (one segment),
 * `/api/listings/:id?` (optional last segment), `/api/listings/*` (any rest, including none).
 * Matching is on normalised, decoded segments and case-insensitive, as express routes are: a route
 * must not be bypassed by writing `/API/Listings`.
 */
export type Segment = { kind: 'literal'; value: string } | { kind: 'param'; name: string; optional: boolean } | { kind: 'wildcard' };

export interface PathPattern {
  source: string;
  segments: readonly Segment[];
}

const LITERAL = /^[A-Za-z0-9._~!$&'()+,=@-]+$/;
const PARAM = /^:([A-Za-z_][A-Za-z0-9_]*)(\?)?$/;

/** Parses a pattern, or throws an Error whose message says what is wrong with it. */
export function parsePathPattern(source: string): PathPattern {
  if (!source.startsWith('/')) throw new Error(`path "${source}" must start with /`);
  if (source === '/') return { source, segments: [] };
  const parts = source.slice(1).split('/');
  const segments: Segment[] = parts.map((part, i) => {
    const last = i === parts.length - 1;
    if (part === '') throw new Error(`path "${source}" has an empty segment (// or a trailing /)`);
    if (part === '*') {
      if (!last) throw new Error(`path "${source}": * is only allowed as the last segment`);
      return { kind: 'wildcard' };
    }
    const param = PARAM.exec(part);
    if (param) {
      if (param[2] && !last) throw new Error(`path "${source}": only the last segment can be optional`);
      return { kind: 'param', name: param[1]!, optional: Boolean(param[2]) };
    }
    if (part === '.' || part === '..' || !LITERAL.test(part)) {
      throw new Error(`path "${source}": segment "${part}" must be a literal (letters, digits, . _ ~ -), :param, :param? or *`);
    }
    return { kind: 'literal', value: part.toLowerCase() };
  });
  return { source, segments };
}

/** Whether decoded path segments (no empty ones) match the pattern. */
export function matchPath(pattern: PathPattern, segments: readonly string[]): boolean {
  const p = pattern.segments;
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]!;
    if (seg.kind === 'wildcard') return true;
    const value = segments[i];
    if (value === undefined) return seg.kind === 'param' && seg.optional && i === segments.length;
    if (seg.kind === 'literal' && seg.value !== value.toLowerCase()) return false;
  }
  return segments.length === p.length;
}

/**
 * Paths that stand for everything `pattern` matches: params become a token no literal can equal,
 * wildcards become nothing or two segments. If another pattern matches all of them, it matches
 * everything this one does (our patterns have no other way to differ).
 */
export function representativePaths(pattern: PathPattern): string[][] {
  let paths: string[][] = [[]];
  for (const seg of pattern.segments) {
    if (seg.kind === 'literal') paths = paths.map((p) => [...p, seg.value]);
    else if (seg.kind === 'param') paths = paths.flatMap((p) => (seg.optional ? [p, [...p, '\u0000param']] : [[...p, '\u0000param']]));
    else paths = paths.flatMap((p) => [p, [...p, '\u0000any', '\u0000any']]);
  }
  return paths;
}
