import { envReader } from '@strangler/service-kit';

/** Everything the listings service reads from its environment; the only module that touches process.env. */
export interface ListingsConfig {
  /** PostgreSQL URL of the `listings` database (DATABASE_URL, required). */
  databaseUrl: string;
  /** HTTP port (PORT, default 3102; 0 picks a free one). */
  port: number;
  /** Interface to listen on (HOST, default 127.0.0.1; 0.0.0.0 in a container). */
  host: string;
  /** Session keys shared with the auth service and the monolith (SESSION_SECRET, comma-separated, each ≥ 32 chars). */
  sessionSecrets: string[];
  /** How long a SIGTERM waits for requests in flight, in ms (SHUTDOWN_GRACE_MS, default 10 000). */
  shutdownGraceMs: number;
  /** pino level (LOG_LEVEL, default info). */
  logLevel: string;
  /** Redis for session revocations shared with the monolith and the auth service (REDIS_URL; unset = own table). */
  redisUrl: string | undefined;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ListingsConfig {
  const e = envReader(env);
  return Object.freeze({
    databaseUrl: e.required('DATABASE_URL', 'the PostgreSQL URL of the listings database'),
    port: e.int('PORT', 3102, 0, 65535),
    host: e.string('HOST', '127.0.0.1'),
    sessionSecrets: e.sessionSecrets(),
    shutdownGraceMs: e.int('SHUTDOWN_GRACE_MS', 10_000, 0, 300_000),
    logLevel: e.string('LOG_LEVEL', 'info'),
    redisUrl: e.optional('REDIS_URL'),
  });
}
