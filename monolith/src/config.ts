import { envReader } from '@strangler/service-kit';

/** Everything the monolith reads from its environment; the only module that touches process.env. */
export interface MonolithConfig {
  /** PostgreSQL URL of the `monolith` database (DATABASE_URL, required). */
  databaseUrl: string;
  /** HTTP port (PORT, default 3000; 0 picks a free one). */
  port: number;
  /** Interface to listen on (HOST, default 127.0.0.1; 0.0.0.0 in a container). */
  host: string;
  /** Keys that sign session tokens, first signs, all verify (SESSION_SECRET, comma-separated, each ≥ 32 chars). */
  sessionSecrets: string[];
  /** Mark the session cookie Secure (SECURE_COOKIES=true behind TLS; default false). */
  secureCookies: boolean;
  /** Seed the database when it has no users (SEED_WHEN_EMPTY, default true). */
  seedWhenEmpty: boolean;
  /** How long a SIGTERM waits for requests in flight, in ms (SHUTDOWN_GRACE_MS, default 10 000). */
  shutdownGraceMs: number;
  /** pino level (LOG_LEVEL, default info). */
  logLevel: string;
  /** Redis for session revocations shared with the services (REDIS_URL; unset = this app's own table). */
  redisUrl: string | undefined;
  /**
   * Where the orders module reaches the listings API to reserve stock (API_BASE_URL): the strangler
   * proxy, so stock is taken wherever listings are served. Unset: this monolith itself.
   */
  apiBaseUrl: string | undefined;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): MonolithConfig {
  const e = envReader(env);
  return Object.freeze({
    databaseUrl: e.required('DATABASE_URL', 'the PostgreSQL URL of the monolith database'),
    port: e.int('PORT', 3000, 0, 65535),
    host: e.string('HOST', '127.0.0.1'),
    sessionSecrets: e.sessionSecrets(),
    secureCookies: e.bool('SECURE_COOKIES', false),
    seedWhenEmpty: e.bool('SEED_WHEN_EMPTY', true),
    shutdownGraceMs: e.int('SHUTDOWN_GRACE_MS', 10_000, 0, 300_000),
    logLevel: e.string('LOG_LEVEL', 'info'),
    redisUrl: e.optional('REDIS_URL'),
    apiBaseUrl: e.optional('API_BASE_URL')?.replace(/\/+$/, ''),
  });
}
