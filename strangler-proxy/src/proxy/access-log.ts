import type { Logger } from 'pino';

/**
 * The access log line of one forwarded request: fixed fields of the proxy's own making, none a
 * secret's name (a test holds them to the secret list) — the path is the normalised path without
 * its query, the request id one the proxy made or checked (`[A-Za-z0-9._:-]`, 1–128).
 */
export interface AccessLine {
  requestId: string;
  method: string;
  path: string;
  status: number;
  route: string;
  mode: string;
  target: string;
  fallback: boolean;
  ms: number;
}

/** Every field name of AccessLine, for the test that none is a secret's name. */
export const ACCESS_FIELDS: readonly (keyof AccessLine)[] = [
  'requestId',
  'method',
  'path',
  'status',
  'route',
  'mode',
  'target',
  'fallback',
  'ms',
];

/**
 * The access log as a function of AccessLine alone, or undefined below info. It writes through a
 * child of `log` whose redaction is switched off: redaction works by field name, no field here can
 * hold a secret by construction, and pino's redaction (a wildcard path makes it visit every field
 * of every line) was a fifth of the proxy's CPU per request. Everything else goes through `log`,
 * redacted as before; both share one destination, so their lines keep their order.
 */
export function accessLog(log: Logger): ((line: AccessLine) => void) | undefined {
  if (!log.isLevelEnabled('info')) return undefined;
  const unredacted = log.child({}, { redact: { paths: [] } });
  return (line) => unredacted.info(line, 'request');
}
