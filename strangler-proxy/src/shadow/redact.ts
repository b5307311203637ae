import { isSecretName } from '@strangler/service-kit/secret-keys';

/** A test on a name: does its value have to be hidden? */
export interface NameTest {
  test(name: string): boolean;
}

/** What a stored diff must never hold, by key name and by value shape. */
export interface RedactionRules {
  /** Object keys and header names whose values are replaced: the secret key list (service-kit's `secret-keys.ts`) and SHADOW_REDACT_KEYS. */
  keys: NameTest;
  /** Query parameter and form field names whose values are replaced: `keys`, and the names secret only there (`code`). */
  queryKeys: NameTest;
  /** Substrings of any string value that are replaced (operators' SHADOW_REDACT_VALUES; the built-in shapes are SECRET_SHAPES). */
  values: readonly RegExp[];
}

export const REDACTED = '[redacted]';

const digits = (s: string): string => s.replace(/\D/g, '');

/** The Luhn check digit holds: a card number, not any run of digits (a timestamp, an order number). */
function luhn(s: string): boolean {
  const d = digits(s);
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let n = Number(d[d.length - 1 - i]);
    if (i % 2) n = n * 2 > 9 ? n * 2 - 9 : n * 2;
    sum += n;
  }
  return sum % 10 === 0;
}

/** The IBAN check (ISO 13616, mod 97 = 1): a bank account, not any capitalised code. */
function ibanCheck(s: string): boolean {
  const compact = s.replace(/ /g, '');
  if (compact.length < 15 || compact.length > 34) return false;
  const numeric = (compact.slice(4) + compact.slice(0, 4)).replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  let rest = 0;
  for (const ch of numeric) rest = (rest * 10 + Number(ch)) % 97;
  return rest === 1;
}

/**
 * Values that are secrets whatever their key: IBANs (by their check), card numbers (by Luhn), JWTs,
 * this system's session tokens, bearer and basic credentials. IBANs go first: their digits could
 * pass for a card number.
 */
export const SECRET_SHAPES: readonly { what: string; pattern: RegExp; valid?: (match: string) => boolean }[] = [
  { what: 'IBAN', pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g, valid: ibanCheck },
  { what: 'card number', pattern: /\b\d(?:[ -]?\d){12,18}\b/g, valid: luhn },
  { what: 'JWT', pattern: /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g },
  { what: 'session token', pattern: /\bv1\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g },
  { what: 'bearer token', pattern: /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi },
  { what: 'basic credentials', pattern: /\bBasic\s+[A-Za-z0-9+/]{8,}={0,2}/gi },
];

/** What every one of SECRET_SHAPES holds somewhere: a string without any is spared their patterns. */
const SHAPE_HINT = /\d|eyJ|bearer|basic/i;

/** `name=value` in a query, a form body, a cookie or a header's parameters; group 1 is what precedes it. */
const PAIR = /(^|[?&;,\s])([^=&?#;,\s]+)=([^&#;,\s]*)/g;

/** The built-in rules (the secret key list, SECRET_SHAPES), plus patterns an operator configured (SHADOW_REDACT_KEYS, SHADOW_REDACT_VALUES). */
export function redactionRules(extraKeys: readonly string[] = [], extraValues: readonly string[] = []): RedactionRules {
  const extra = extraKeys.length ? new RegExp(extraKeys.join('|'), 'i') : undefined;
  return {
    keys: remembered((name) => isSecretName(name) || (extra?.test(name) ?? false)),
    queryKeys: remembered((name) => isSecretName(name, { query: true }) || (extra?.test(name) ?? false)),
    values: extraValues.map((v) => new RegExp(v, 'g')),
  };
}

/** Names answered once: bodies repeat the same keys thousands of times. (Forgotten past 10 000, so odd keys cannot grow it.) */
function remembered(test: (name: string) => boolean): NameTest {
  const known = new Map<string, boolean>();
  return {
    test(name) {
      let secret = known.get(name);
      if (secret === undefined) {
        if (known.size >= 10_000) known.clear();
        known.set(name, (secret = test(name)));
      }
      return secret;
    },
  };
}

/** A string with secret-shaped values replaced, and the values of secret-named `name=value` pairs in it. */
export function redactString(s: string, r: RedactionRules): string {
  let out = s;
  if (SHAPE_HINT.test(out))
    for (const shape of SECRET_SHAPES) out = out.replace(shape.pattern, (m) => (!shape.valid || shape.valid(m) ? REDACTED : m));
  for (const re of r.values) out = out.replace(re, REDACTED);
  if (!out.includes('=')) return out;
  // Names secret only as parameters (`code`) count where a query or form puts them: first, or after ? or &.
  return out.replace(PAIR, (pair, before: string, name: string) => {
    const decoded = decodeURIComponentSafe(name.replace(/\+/g, ' '));
    const secret = ['', '?', '&'].includes(before) ? r.queryKeys.test(decoded) : r.keys.test(decoded);
    return secret ? `${before}${name}=${REDACTED}` : pair;
  });
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

/** A body as stored: JSON redacted field by field, other text (form-encoded bodies too) by names and value shapes, binary not at all. */
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

/** A path with the values of secret-named query (and `;` path) parameters and secret-shaped values replaced. */
export function redactPath(path: string, r: RedactionRules): string {
  return redactString(path, r);
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
