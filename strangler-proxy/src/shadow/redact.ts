/** What a stored diff must never hold, by key name and by value shape. */
export interface RedactionRules {
  /** Object keys, header and query parameter names whose values are replaced. */
  keys: RegExp;
  /** Substrings of any string value that are replaced (tokens, card numbers). */
  values: readonly RegExp[];
}

export const REDACTED = '[redacted]';

/** Names that carry secrets: credentials, sessions, tokens, keys, card and identity numbers. */
export const DEFAULT_SECRET_KEYS = /pass(word)?|passwd|secret|token|authori[sz]ation|cookie|session|api[-_]?key|credential|private|ssn|card/i;

/** Values that are secrets whatever their key: JWTs, this system's session tokens, bearer tokens, card numbers. */
export const DEFAULT_SECRET_VALUES: readonly RegExp[] = [
  /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g,
  /\bv1\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g,
  /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /\b(?:\d[ -]?){13,19}\b/g,
];

/** The defaults, plus patterns an operator configured (SHADOW_REDACT_KEYS, SHADOW_REDACT_VALUES). */
export function redactionRules(extraKeys: readonly string[] = [], extraValues: readonly string[] = []): RedactionRules {
  const keys = extraKeys.length ? new RegExp(`${DEFAULT_SECRET_KEYS.source}|${extraKeys.join('|')}`, 'i') : DEFAULT_SECRET_KEYS;
  return { keys, values: [...DEFAULT_SECRET_VALUES, ...extraValues.map((v) => new RegExp(v, 'g'))] };
}

export function redactString(s: string, r: RedactionRules): string {
  let out = s;
  for (const re of r.values) out = out.replace(re, REDACTED);
  return out;
}

/** A copy of any JSON value with secret keys' values and secret-looking strings replaced. */
export function redactJson(v: unknown, r: RedactionRules): unknown {
  if (typeof v === 'string') return redactString(v, r);
  if (Array.isArray(v)) return v.map((x) => redactJson(x, r));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = r.keys.test(k) ? REDACTED : redactJson(x, r);
    return out;
  }
  return v;
}

/** A body as stored: JSON redacted field by field, other text by value patterns, binary not at all. */
export function redactBody(body: Buffer, r: RedactionRules, maxChars = 20_000): string {
  const text = body.toString('utf8');
  let shown: string;
  try {
    shown = JSON.stringify(redactJson(JSON.parse(text), r), null, 2);
  } catch {
    shown = isBinary(body) ? `(${body.length} bytes of binary)` : redactString(text, r);
  }
  return shown.length > maxChars ? `${shown.slice(0, maxChars)}\n… (${shown.length - maxChars} more characters)` : shown;
}

/** Whether a body holds control bytes no text would (NUL and friends): shown by its size only. */
function isBinary(body: Buffer): boolean {
  return body.subarray(0, 4096).some((b) => b < 9 || (b > 13 && b < 32));
}

/** A path with the values of secret-looking query parameters replaced. */
export function redactPath(path: string, r: RedactionRules): string {
  const q = path.indexOf('?');
  if (q < 0) return redactString(path, r);
  const params = path
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = decodeURIComponentSafe(eq < 0 ? pair : pair.slice(0, eq));
      return eq >= 0 && r.keys.test(name) ? `${pair.slice(0, eq)}=${REDACTED}` : redactString(pair, r);
    });
  return `${redactString(path.slice(0, q), r)}?${params.join('&')}`;
}

/** Headers as stored: only the harmless ones, secret-looking values replaced. */
export function redactHeaders(headers: Readonly<Record<string, string | undefined>>, r: RedactionRules): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = r.keys.test(k) ? REDACTED : redactString(v, r);
  return out;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
