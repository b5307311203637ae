import { envReader } from './env.ts';
import { withPassword } from './secret-url.ts';

const optionalUrl = (url: string | undefined, password: string | undefined): string | undefined => (url ? withPassword(url, password) : undefined);

/** What every app (the monolith and each service) reads from its environment. */
export interface AppConfig {
  /** PostgreSQL URL of the app's own database (DATABASE_URL, required; its password may come from DATABASE_PASSWORD). */
  databaseUrl: string;
  /** HTTP port (PORT; 0 picks a free one). */
  port: number;
  /** Interface to listen on (HOST, default 127.0.0.1; 0.0.0.0 in a container). */
  host: string;
  /** Keys that sign session tokens, shared by every app; the first signs, all verify (SESSION_SECRET, comma-separated, each ≥ 32 chars). */
  sessionSecrets: string[];
  /** How long a SIGTERM waits for requests in flight, in ms (SHUTDOWN_GRACE_MS, default 10 000). */
  shutdownGraceMs: number;
  /** pino level (LOG_LEVEL, default info). */
  logLevel: string;
  /** Redis for session revocations shared by every app (REDIS_URL, its password may come from REDIS_PASSWORD; unset = the app's own table). */
  redisUrl: string | undefined;
}

/** The common settings, read and checked; `defaultPort` and what the database holds differ per app. */
export function loadAppConfig(env: NodeJS.ProcessEnv, opts: { defaultPort: number; database: string }): AppConfig {
  const e = envReader(env);
  return {
    databaseUrl: withPassword(e.required('DATABASE_URL', `the PostgreSQL URL of the ${opts.database} database`), e.optional('DATABASE_PASSWORD')),
    port: e.int('PORT', opts.defaultPort, 0, 65535),
    host: e.string('HOST', '127.0.0.1'),
    sessionSecrets: e.sessionSecrets(),
    shutdownGraceMs: e.int('SHUTDOWN_GRACE_MS', 10_000, 0, 300_000),
    logLevel: e.string('LOG_LEVEL', 'info'),
    redisUrl: optionalUrl(e.optional('REDIS_URL'), e.optional('REDIS_PASSWORD')),
  };
}
