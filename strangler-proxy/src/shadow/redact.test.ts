import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '@strangler/service-kit/logger';
import { REDACTED, redactBody, redactHeaders, redactJson, redactPath, redactionRules } from './redact.ts';

const r = redactionRules();
const SECRET = 'S3CR3T-v4lue';

/** What a pino logger with these paths writes for `obj`. */
function logged(paths: string[], obj: Record<string, unknown>): string {
  let out = '';
  const log = pino({ redact: { paths, censor: REDACTED } }, new Writable({ write: (c, _e, cb) => ((out += c), cb()) }));
  log.info(obj, 'x');
  return out;
}

/**
 * Key → redacted where. `json`: a JSON body's key (and a form field's, a query parameter's, a
 * header's); `query`: only as a query parameter or form field; `log`: the loggers hide it by name too
 * (they match exact names, camelCase and snake_case, not words).
 */
const SECRET_KEYS: [key: string, where: { query?: 'only'; log?: boolean }][] = [
  ['password', { log: true }],
  ['newPassword', {}],
  ['Password', {}],
  ['cvv', { log: true }],
  ['cvv2', {}],
  ['cvc', { log: true }],
  ['otp', { log: true }],
  ['pin', { log: true }],
  ['PIN', {}],
  ['userPin', {}],
  ['pin_code', {}],
  ['resetCode', { log: true }],
  ['reset_code', { log: true }],
  ['passwordResetCode', {}],
  ['iban', { log: true }],
  ['IBAN', {}],
  ['apiKey', { log: true }],
  ['x-api-key', {}],
  ['accessToken', {}],
  ['token', { log: true }],
  ['clientSecret', {}],
  ['cacao_session', {}],
  ['cardNumber', {}],
  ['authorization', {}],
  ['privateKey', { log: true }],
  ['code', { query: 'only' }],
];

/** Ordinary fields the comparison must still show, though a secret word sits inside them. */
const ORDINARY_KEYS = [
  'pinned',
  'opinion',
  'spinach',
  'shipping',
  'passenger',
  'tokenizer',
  'cardinality',
  'isPrivate',
  'description',
  'title',
];

describe('redaction: one key list for shadow examples and logs', () => {
  it.each(SECRET_KEYS)('when a value sits under %s, then it is redacted wherever that name is secret', (key, where) => {
    const json = JSON.stringify(redactJson({ [key]: SECRET, nested: [{ [key]: SECRET }], keep: 'shown' }, r));
    const form = redactBody(Buffer.from(`${encodeURIComponent(key)}=${SECRET}&keep=shown`), r);
    const query = redactPath(`/api/x?${encodeURIComponent(key)}=${SECRET}&keep=shown`, r);
    const headers = JSON.stringify(redactHeaders({ [key]: SECRET, keep: 'shown' }, r));
    for (const [what, text] of [
      ['form body', form],
      ['query', query],
    ] as const) {
      expect(text, what).not.toContain(SECRET);
      expect(text, what).toContain('keep=shown');
    }
    for (const [what, text] of [
      ['JSON body', json],
      ['headers', headers],
    ] as const) {
      if (where.query === 'only') expect(text, what).toContain(SECRET);
      else expect(text, what).not.toContain(SECRET);
      expect(text, what).toContain('shown');
    }
    if (where.log) {
      expect(logged(REDACT_PATHS, { [key]: SECRET, user: { [key]: SECRET } }), 'logger').not.toContain(SECRET);
    }
  });

  it.each(ORDINARY_KEYS)('when a value sits under %s, then it is shown: an ordinary field is not taken for a secret', (key) => {
    expect(redactJson({ [key]: 'shown', code: 'not_found' }, r)).toEqual({ [key]: 'shown', code: 'not_found' });
    expect(redactPath(`/api/x?${key}=shown`, r)).toBe(`/api/x?${key}=shown`);
  });

  it('when a form-encoded body holds a password and a code, then both are redacted and the rest is shown', () => {
    const body = redactBody(Buffer.from(`user=ana&password=${SECRET}&code=${SECRET}&remember=1`), r);
    expect(body).toBe(`user=ana&password=${REDACTED}&code=${REDACTED}&remember=1`);
  });

  it('when a redirect carries an authorization code in its query, then the code is redacted', () => {
    expect(redactHeaders({ location: `https://app.example/cb?code=${SECRET}&state=xyz` }, r)).toEqual({
      location: `https://app.example/cb?code=${REDACTED}&state=xyz`,
    });
  });

  it.each([
    ['a card number (Luhn)', 'paid with 4111 1111 1111 1111 today', 'paid with [redacted] today'],
    ['a card number without spaces', 'card:4012888888881881', 'card:[redacted]'],
    ['an IBAN', 'to GB82 WEST 1234 5698 7654 32 please', 'to [redacted] please'],
    ['an IBAN without spaces', 'DE89370400440532013000', '[redacted]'],
    ['a JWT', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXZhbHVl', '[redacted]'],
    ['a bearer token', 'Bearer abc.def-123', '[redacted]'],
  ])('when a string holds %s, then it is redacted whatever its key', (_what, value, shown) => {
    expect(redactJson({ note: value }, r)).toEqual({ note: shown });
  });

  it.each([
    ['a 16-digit number that fails Luhn', 'order 4111 1111 1111 1112'],
    ['a millisecond timestamp', 'at 1764633600000'],
    ['a word like an IBAN that fails its check', 'GB00 WEST 1234 5698 7654 32'],
  ])('when a string holds %s, then it is shown', (_what, value) => {
    expect(redactJson({ note: value }, r)).toEqual({ note: value });
  });
});
