import { pino, type Logger } from 'pino';
import { secretLogPaths } from './secret-keys.ts';

/** Header and field paths that carry secrets (the secret key list's, and a few of our own: the proxy's admin token among them); pino replaces their values before anything is written. */
export const REDACT_PATHS = [...secretLogPaths(), '*.passwordHash', 'err.config', '*.adminToken'];

/** The one logger factory of the apps, the proxy and the replicator: pino at `level`, each line tagged with `service`, secrets redacted. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({ level, base: { service }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}
