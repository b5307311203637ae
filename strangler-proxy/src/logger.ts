import { secretLogPaths } from '@strangler/service-kit/secret-keys';
import { pino, type Logger } from 'pino';

/** Anything that might carry a secret, replaced before a log line is written: the secret key list's paths, and the admin token. */
export const REDACT_PATHS = [...secretLogPaths(), '*.adminToken'];

export function createLogger(level = 'info', base: Record<string, unknown> = { service: 'strangler-proxy' }): Logger {
  return pino({ level, base, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}
