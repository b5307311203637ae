import { pino, type Logger } from 'pino';

/** Anything that might carry a secret, replaced before a log line is written. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-strangler-token"]',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.token',
  '*.adminToken',
];

export function createLogger(level = 'info', base: Record<string, unknown> = { service: 'strangler-proxy' }): Logger {
  return pino({ level, base, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}
