// The one list of names whose values are secrets. The loggers (pino's redact paths, here and in the
// proxy) and the proxy's shadow redaction (JSON keys, form fields, query parameters, headers of the
// stored examples) all derive from it, so a name added here is hidden everywhere.

/**
 * Secret names, as words or runs of words. A name matches when its words (split at camelCase, `_`,
 * `-`, `.`, spaces and digits; a plural `s` allowed on the last) hold one of these runs: "reset
 * code" matches `resetCode`, `reset_code`, `X-Reset-Code` and `passwordResetCode`; "pin" matches
 * `pin`, `PIN`, `userPin`, `pin_code`, not `pinned`, `opinion` or `spinach`. A run is also matched
 * written as one word (`apikey`, `resetcode`).
 */
export const SECRET_KEY_WORDS: readonly string[] = [
  'password',
  'passwd',
  'pwd',
  'pass',
  'passphrase',
  'secret',
  'token',
  'authorization',
  'cookie',
  'session',
  'api key',
  'private key',
  'credential',
  'ssn',
  'card',
  'cvv',
  'cvc',
  'otp',
  'totp',
  'pin',
  'reset code',
  'auth code',
  'security code',
  'verification code',
  'iban',
  'jwt',
];

/** Names secret as query parameters only (an OAuth authorization `code=`); elsewhere ordinary (an error's `code`). */
export const SECRET_QUERY_KEYS: readonly string[] = ['code'];

/** Header names whose values are secrets (each also matches SECRET_KEY_WORDS); the loggers hide them by name. */
export const SECRET_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-auth-token',
  'x-strangler-token',
];

const PHRASES = SECRET_KEY_WORDS.map((p) => p.split(' '));
const QUERY_PHRASES = SECRET_QUERY_KEYS.map((p) => p.split(' '));

/** A name's words, lower case: `userPIN` → user, pin; `X-Api-Key` → x, api, key; `cvv2` → cvv, 2. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/([A-Za-z])(\d)/g, '$1 $2')
    .replace(/(\d)([A-Za-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

function holds(words: readonly string[], phrases: readonly string[][]): boolean {
  const is = (word: string | undefined, want: string, last: boolean): boolean => word === want || (last && word === `${want}s`);
  return phrases.some(
    (p) =>
      words.some((_, i) => p.every((w, k) => is(words[i + k], w, k === p.length - 1))) ||
      (p.length > 1 && words.some((w) => is(w, p.join(''), true))),
  );
}

/** Whether a key, field, header or parameter name holds a secret; `query`: it names a query parameter or form field. */
export function isSecretName(name: string, opts: { query?: boolean } = {}): boolean {
  const words = nameWords(name);
  return holds(words, PHRASES) || (opts.query === true && holds(words, QUERY_PHRASES));
}

/**
 * pino redact paths for the list: each secret header under `req.headers`, `res.headers` and
 * `headers`, and each key, as camelCase, snake_case and one word, at the top of a log line and one
 * level down. (pino matches exact names only; the shadow redaction matches words.)
 */
export function secretLogPaths(): string[] {
  const headers = SECRET_HEADERS.flatMap((h) => ['req.headers', 'res.headers', 'headers'].map((at) => `${at}["${h}"]`));
  const forms = new Set(
    PHRASES.flatMap((p) => [p.map((w, i) => (i ? w[0]!.toUpperCase() + w.slice(1) : w)).join(''), p.join('_'), p.join('')]),
  );
  return [...headers, ...[...forms].flatMap((f) => [f, `*.${f}`])];
}
