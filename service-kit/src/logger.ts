import { pino, type Logger } from 'pino';

/** Header and field paths that carry secrets; pino replaces their values before anything is written. */
export const REDACT_PATHS = ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', '*.password', '*.passwordHash', '*.token', 'err.config'];

export function createLogger(service: string, level = 'info'): Logger {
  return pino({ level, base: { service }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}
