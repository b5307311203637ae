export type NormalizedPath =
  | {
      ok: true;
      /**
       * The path to forward: dot segments resolved, empty segments collapsed, each segment
       * re-encoded from its decoded value (RFC 3986 §6.2.2), so the upstream's router reads exactly
       * the segments the proxy routed by.
       */
      path: string;
      /** The query string including its `?`, or ''. Passed on untouched. */
      query: string;
      /** Decoded segments, for matching. */
      segments: string[];
    }
  | { ok: false; reason: string };

const HEX_PAIR = /%[0-9A-Fa-f]{2}/;
/**
 * Printable ASCII that RFC 3986 allows in no part of an origin-form target (§3.3 pchar, §3.4
 * query): a raw one means a client and a server may split the target differently — `#` starts a
 * fragment that express drops but a literal matcher keeps, so `/api/orders#` would route as one
 * path and be served as another. `\` is named apart: some servers read it as `/`.
 */
const FORBIDDEN = /["#<>\\^`{|}[\]]/;
/** Characters a segment keeps raw when re-encoded: unreserved, sub-delims, ':' and '@' (RFC 3986 §3.3). */
const PCHAR_RAW = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Normalises the request target once, before routing and authorisation, so that a path cannot mean
 * one thing to the proxy and another to the upstream: `.` and `..`
 * segments are resolved (also when percent-encoded), `//` collapses; an encoded or raw separator
 * (`%2f`, `%5c`, `\`), NUL or control character, double encoding (`%252e`), invalid or overlong
 * UTF-8 (`%c0%ae`), `..;` path parameters, and characters RFC 3986 forbids raw (`#`, `"`, `<`, `>`,
 * `^`, backtick, `{`, `|`, `}`, `[`, `]`, spaces, controls) are refused.
 */
export function normalizePath(target: string): NormalizedPath {
  return normalize(target, true);
}

/** normalizePath without its shortcut for plain paths: the reference a test holds the shortcut to. */
export function normalizePathFully(target: string): NormalizedPath {
  return normalize(target, false);
}

/**
 * A path the segment pass would give back unchanged: segments of characters kept raw (no `%`, no
 * `;`), none empty, none `.` or `..`, maybe a trailing slash. Most requests' paths are; for them
 * one test replaces splitting, decoding and re-encoding every segment character by character.
 */
const PLAIN_PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9\-._~!$&'()*+,=:@]+)+\/?$/;

function normalize(target: string, shortcut: boolean): NormalizedPath {
  if (!target.startsWith('/')) return { ok: false, reason: 'the request target must be a path starting with /' };
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  const plain = shortcut && (rawPath === '/' || PLAIN_PATH.test(rawPath));
  // A plain path holds nothing the checks below refuse: only its query is left to scan.
  const scanned = plain ? query : target;
  if (/[^\x21-\x7e]/.test(scanned)) return { ok: false, reason: 'the request target holds a space, control or non-ASCII byte' };
  if (!plain && rawPath.includes('\\'))
    return { ok: false, reason: 'the path holds a backslash ("\\"); percent-encode it as %5C if it is data' };
  const forbidden = FORBIDDEN.exec(scanned);
  if (forbidden) {
    const c = forbidden[0];
    const hex = `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
    return {
      ok: false,
      reason:
        c === '#'
          ? 'the request target holds "#": a fragment is never sent to a server (percent-encode it as %23 if it is data)'
          : `the request target holds "${c}", which must be percent-encoded (${hex})`,
    };
  }

  if (plain) {
    return { ok: true, path: rawPath, query, segments: rawPath.split('/').filter((part) => part !== '') };
  }

  const raw: string[] = [];
  const decoded: string[] = [];
  for (const part of rawPath.split('/')) {
    if (part === '') continue;
    let value: string;
    try {
      value = decodeSegment(part);
    } catch {
      return { ok: false, reason: `path segment "${part}" is not valid percent-encoded UTF-8` };
    }
    if (/[/\\]/.test(value)) return { ok: false, reason: `path segment "${part}" encodes a path separator` };
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(value)) return { ok: false, reason: `path segment "${part}" encodes a NUL or control character` };
    if (HEX_PAIR.test(value)) return { ok: false, reason: `path segment "${part}" is percent-encoded twice` };
    const beforeParam = value.split(';')[0];
    if (value.includes(';') && (beforeParam === '.' || beforeParam === '..'))
      return { ok: false, reason: `path segment "${part}" hides a dot segment behind ;` };
    if (value === '.') continue;
    if (value === '..') {
      raw.pop();
      decoded.pop();
      continue;
    }
    raw.push(encodeSegment(value));
    decoded.push(value);
  }
  const trailingSlash = rawPath.length > 1 && rawPath.endsWith('/') && raw.length > 0;
  return { ok: true, path: `/${raw.join('/')}${trailingSlash ? '/' : ''}`, query, segments: decoded };
}

/** A decoded segment in its one canonical encoding: pchar kept, everything else %XX of its UTF-8 bytes. */
function encodeSegment(value: string): string {
  let out = '';
  for (const ch of value) {
    if (PCHAR_RAW.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function decodeSegment(part: string): string {
  if (!part.includes('%')) return part;
  const bytes: number[] = [];
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i);
    if (c === 0x25) {
      const hex = part.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Error('bad escape');
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(c);
    }
  }
  return utf8.decode(new Uint8Array(bytes));
}
