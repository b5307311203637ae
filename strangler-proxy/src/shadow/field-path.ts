/**
 * Where two responses differ: the status, one header, or a place in the JSON body (`$.items[3].title`).
 * A body path is a list of object keys and array indexes from the root.
 */
export type FieldLocation =
  { area: 'status' } | { area: 'header'; name: string } | { area: 'body'; segments: readonly (string | number)[] };

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `$.items[3]["odd key"]`: how a body path is shown. */
export function showBodyPath(segments: readonly (string | number)[], anyIndex = false): string {
  return segments.reduce<string>((out, s) => {
    if (typeof s === 'number') return `${out}[${anyIndex ? '*' : s}]`;
    return IDENTIFIER.test(s) ? `${out}.${s}` : `${out}[${JSON.stringify(s)}]`;
  }, '$');
}

/** The location as people read it: `status`, `headers.content-type`, `$.items[3].title`. */
export function showLocation(l: FieldLocation): string {
  if (l.area === 'status') return 'status';
  if (l.area === 'header') return `headers.${l.name}`;
  return showBodyPath(l.segments);
}

/**
 * The field a location belongs to, with array indexes folded (`$.items[*].title`): what differences
 * are counted by across requests, so the 3rd item of one answer and the 7th of another are one field.
 */
export function fieldKey(l: FieldLocation): string {
  return l.area === 'body' ? showBodyPath(l.segments, true) : showLocation(l);
}

type Token = { kind: 'key'; name: string } | { kind: 'anyKey' } | { kind: 'index'; n: number } | { kind: 'anyIndex' } | { kind: 'descend' };

/** A compiled field pattern: `status`, `headers.date`, `headers.*`, `$.a.b`, `$.items[*].id`, `$.*.x`, `$..updatedAt`. */
export interface FieldPattern {
  source: string;
  matches(l: FieldLocation): boolean;
}

/** Parses a pattern, or throws an Error whose message says what is wrong with it. */
export function parseFieldPattern(source: string): FieldPattern {
  if (source === 'status') return { source, matches: (l) => l.area === 'status' };
  if (source.startsWith('headers.')) {
    const name = source.slice('headers.'.length).toLowerCase();
    if (!/^(\*|[a-z0-9!#$%&'*+.^_`|~-]+)$/.test(name)) throw new Error(`"${source}": headers.<name> needs a header name (or *)`);
    return { source, matches: (l) => l.area === 'header' && (name === '*' || l.name === name) };
  }
  if (source === 'body') return { source, matches: (l) => l.area === 'body' && l.segments.length === 0 };
  if (!source.startsWith('$'))
    throw new Error(`"${source}" must be status, headers.<name>, or a body path starting with $ (like $.items[*].updatedAt)`);
  const tokens = tokenize(source);
  return { source, matches: (l) => l.area === 'body' && matchTokens(tokens, 0, l.segments, 0) };
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 1;
  const fail = (why: string): never => {
    throw new Error(`"${source}": ${why} at character ${i + 1}`);
  };
  while (i < source.length) {
    if (source.startsWith('..', i)) {
      tokens.push({ kind: 'descend' });
      i += 2;
      // `$..name`: the key follows the two dots directly.
      const name = /^(\*|[A-Za-z_$][A-Za-z0-9_$-]*)/.exec(source.slice(i));
      if (!name) fail('expected a key after ..');
      tokens.push(name![1] === '*' ? { kind: 'anyKey' } : { kind: 'key', name: name![1]! });
      i += name![1]!.length;
    } else if (source[i] === '.') {
      const name = /^(\*|[A-Za-z_$][A-Za-z0-9_$-]*)/.exec(source.slice(i + 1));
      if (!name) fail('expected a key after .');
      tokens.push(name![1] === '*' ? { kind: 'anyKey' } : { kind: 'key', name: name![1]! });
      i += 1 + name![1]!.length;
    } else if (source[i] === '[') {
      const bracket = /^\[(\*|\d+|"(?:[^"\\]|\\.)*")\]/.exec(source.slice(i));
      if (!bracket) fail('expected [*], [n] or ["key"]');
      const inner = bracket![1]!;
      if (inner === '*') tokens.push({ kind: 'anyIndex' });
      else if (inner.startsWith('"')) tokens.push({ kind: 'key', name: JSON.parse(inner) as string });
      else tokens.push({ kind: 'index', n: Number(inner) });
      i += bracket![0].length;
    } else {
      fail('expected . or [');
    }
  }
  return tokens;
}

function matchTokens(tokens: Token[], ti: number, segs: readonly (string | number)[], si: number): boolean {
  if (ti === tokens.length) return si === segs.length;
  const t = tokens[ti]!;
  if (t.kind === 'descend') {
    for (let k = si; k <= segs.length; k++) if (matchTokens(tokens, ti + 1, segs, k)) return true;
    return false;
  }
  if (si === segs.length) return false;
  const s = segs[si]!;
  const ok =
    (t.kind === 'key' && s === t.name) ||
    (t.kind === 'anyKey' && typeof s === 'string') ||
    (t.kind === 'index' && s === t.n) ||
    (t.kind === 'anyIndex' && typeof s === 'number');
  return ok && matchTokens(tokens, ti + 1, segs, si + 1);
}
