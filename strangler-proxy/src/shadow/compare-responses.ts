import { createHash } from 'node:crypto';
import { fieldKey, parseFieldPattern, showLocation, type FieldLocation, type FieldPattern } from './field-path.ts';

/** One side's answer, as compared: its status, the chosen headers (lowercase names) and its decoded body. */
export interface ComparableResponse {
  status: number;
  headers: Readonly<Record<string, string | undefined>>;
  body: Buffer;
}

/** How two answers are compared for one route: what to leave out and what counts as equal. */
export interface CompareRules {
  /** Fields never compared. */
  ignore: readonly FieldPattern[];
  /** Response headers compared besides the status. */
  headers: readonly string[];
  /** Numbers at a matching path are equal when at most `abs` apart. */
  tolerance: readonly { pattern: FieldPattern; abs: number }[];
  /** Arrays at a matching path are compared as sets, their elements matched by `key`. */
  sets: readonly { pattern: FieldPattern; key: string }[];
  /** ISO 8601 timestamps at most this many ms apart are equal (0: the same instant, in any notation). */
  timestampToleranceMs: number;
}

export interface CompareRulesSpec {
  ignore?: readonly string[];
  headers?: readonly string[];
  tolerance?: Readonly<Record<string, number>>;
  sets?: Readonly<Record<string, string>>;
  timestampToleranceMs?: number;
}

/** Compiles rules from their route-table form; a malformed path throws with what to fix. */
export function compileRules(spec: CompareRulesSpec): CompareRules {
  return {
    ignore: (spec.ignore ?? []).map(parseFieldPattern),
    headers: (spec.headers ?? ['content-type']).map((h) => h.toLowerCase()),
    tolerance: Object.entries(spec.tolerance ?? {}).map(([p, abs]) => ({
      pattern: p === '*' ? { source: '*', matches: () => true } : parseFieldPattern(p),
      abs,
    })),
    sets: Object.entries(spec.sets ?? {}).map(([p, key]) => ({ pattern: parseFieldPattern(p), key })),
    timestampToleranceMs: spec.timestampToleranceMs ?? 0,
  };
}

export type DifferenceKind = 'changed' | 'missing' | 'extra' | 'type';

/** One difference: `a` is the monolith's value, `b` the service's (absent when missing on that side). */
export interface FieldDifference {
  /** `$.items[3].title` */
  path: string;
  /** `$.items[*].title`: the path with indexes folded, what differences are counted by. */
  field: string;
  kind: DifferenceKind;
  a?: unknown;
  b?: unknown;
}

/** At most this many differences are listed per comparison; the rest are counted in one more entry. */
export const MAX_DIFFERENCES = 50;

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * The differences between two answers to the same request, after the route's rules: status, the
 * chosen headers, and the body — JSON compared structurally field by field, anything else by hash.
 * Identical bodies are recognised byte for byte before anything is parsed.
 */
export function compareResponses(a: ComparableResponse, b: ComparableResponse, rules: CompareRules): FieldDifference[] {
  const out: FieldDifference[] = [];
  const ignored = (l: FieldLocation): boolean => rules.ignore.some((p) => p.matches(l));
  const push = (l: FieldLocation, kind: DifferenceKind, av: unknown, bv: unknown): void => {
    if (ignored(l)) return;
    out.push({
      path: showLocation(l),
      field: fieldKey(l),
      kind,
      ...(av !== undefined ? { a: av } : {}),
      ...(bv !== undefined ? { b: bv } : {}),
    });
  };
  if (a.status !== b.status) push({ area: 'status' }, 'changed', a.status, b.status);
  for (const name of rules.headers) {
    const [av, bv] = [a.headers[name], b.headers[name]];
    if (av !== bv) push({ area: 'header', name }, av === undefined ? 'extra' : bv === undefined ? 'missing' : 'changed', av, bv);
  }
  if (a.body.equals(b.body)) return out;
  const [ja, jb] = [parseJson(a.body), parseJson(b.body)];
  if (ja === undefined || jb === undefined) {
    push({ area: 'body', segments: [] }, 'changed', digest(a.body), digest(b.body));
    return out;
  }
  diffJson(ja.value, jb.value, [], { rules, ignored, push, out });
  if (out.length > MAX_DIFFERENCES) {
    const more = out.length - MAX_DIFFERENCES;
    out.length = MAX_DIFFERENCES;
    out.push({ path: '$', field: '(more)', kind: 'changed', a: `${more} more differences not listed` });
  }
  return out;
}

function parseJson(body: Buffer): { value: Json } | undefined {
  if (!body.length) return { value: null };
  try {
    return { value: JSON.parse(body.toString('utf8')) as Json };
  } catch {
    return undefined;
  }
}

const digest = (body: Buffer): string => `sha256:${createHash('sha256').update(body).digest('hex').slice(0, 16)} (${body.length} bytes)`;

const typeOf = (v: Json): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** What a walk through two JSON values carries along. */
interface Walk {
  rules: CompareRules;
  ignored: (l: FieldLocation) => boolean;
  push: (l: FieldLocation, kind: DifferenceKind, a: unknown, b: unknown) => void;
  out: FieldDifference[];
}

function diffJson(a: Json, b: Json, segments: (string | number)[], w: Walk): void {
  const { rules, ignored, push, out } = w;
  if (out.length > MAX_DIFFERENCES) return;
  const here: FieldLocation = { area: 'body', segments };
  if (ignored(here)) return;
  const [ta, tb] = [typeOf(a), typeOf(b)];
  if (ta !== tb) return push(here, 'type', a, b);
  if (Array.isArray(a)) {
    const setRule = rules.sets.find((s) => s.pattern.matches(here));
    if (setRule) return diffSet(a, b as Json[], setRule.key, segments, w);
    const n = Math.max(a.length, (b as Json[]).length);
    for (let i = 0; i < n; i++) {
      const at = [...segments, i];
      if (i >= (b as Json[]).length) push({ area: 'body', segments: at }, 'missing', a[i], undefined);
      else if (i >= a.length) push({ area: 'body', segments: at }, 'extra', undefined, (b as Json[])[i]);
      else diffJson(a[i]!, (b as Json[])[i]!, at, w);
    }
    return;
  }
  if (a !== null && typeof a === 'object') {
    const bo = b as Record<string, Json>;
    const keys = [...new Set([...Object.keys(a), ...Object.keys(bo)])].sort();
    for (const k of keys) {
      const at = [...segments, k];
      if (!Object.hasOwn(bo, k)) push({ area: 'body', segments: at }, 'missing', a[k], undefined);
      else if (!Object.hasOwn(a, k)) push({ area: 'body', segments: at }, 'extra', undefined, bo[k]);
      else diffJson(a[k]!, bo[k]!, at, w);
    }
    return;
  }
  if (a === b) return;
  if (typeof a === 'number' && typeof b === 'number') {
    const tolerance = rules.tolerance.find((t) => t.pattern.matches(here));
    if (tolerance && Math.abs(a - b) <= tolerance.abs) return;
  }
  if (typeof a === 'string' && typeof b === 'string' && ISO_TIMESTAMP.test(a) && ISO_TIMESTAMP.test(b)) {
    const [ma, mb] = [Date.parse(a), Date.parse(b)];
    if (!Number.isNaN(ma) && !Number.isNaN(mb) && Math.abs(ma - mb) <= rules.timestampToleranceMs) return;
  }
  push(here, 'changed', a, b);
}

/** Arrays as sets keyed by a field: order does not matter, elements are paired by their key. */
function diffSet(a: Json[], b: Json[], key: string, segments: (string | number)[], w: Walk): void {
  const { push } = w;
  const keyOf = (v: Json): string =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? JSON.stringify(v[key] ?? null) : JSON.stringify(v);
  const inB = new Map<string, number>();
  b.forEach((v, i) => inB.set(keyOf(v), i));
  const seen = new Set<string>();
  a.forEach((v, i) => {
    const k = keyOf(v);
    seen.add(k);
    const j = inB.get(k);
    if (j === undefined) push({ area: 'body', segments: [...segments, i] }, 'missing', v, undefined);
    else diffJson(v, b[j]!, [...segments, i], w);
  });
  b.forEach((v, j) => {
    if (!seen.has(keyOf(v))) push({ area: 'body', segments: [...segments, j] }, 'extra', undefined, v);
  });
}
