import { DEFAULT_LOGIN_THROTTLE, type LoginThrottleConfig } from '../auth/login-throttle.ts';
import { ConfigError, envReader } from './env.ts';
import { withPassword } from './secret-url.ts';

const optionalUrl = (url: string | undefined, password: string | undefined): string | undefined =>
  url ? withPassword(url, password) : undefined;

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
  /** Login throttling (LOGIN_THROTTLE_*, FORWARDED_FOR_HOPS; each option's unit and default in `LoginThrottleConfig`); unset: `DEFAULT_LOGIN_THROTTLE`. */
  loginThrottle?: LoginThrottleConfig;
}

/** The common settings, read and checked; `defaultPort` and what the database holds differ per app. */
export function loadAppConfig(env: NodeJS.ProcessEnv, opts: { defaultPort: number; database: string }): AppConfig {
  const e = envReader(env);
  return {
    databaseUrl: withPassword(
      e.required('DATABASE_URL', `the PostgreSQL URL of the ${opts.database} database`),
      e.optional('DATABASE_PASSWORD'),
    ),
    port: e.int('PORT', opts.defaultPort, 0, 65535),
    host: e.string('HOST', '127.0.0.1'),
    sessionSecrets: e.sessionSecrets(),
    shutdownGraceMs: e.int('SHUTDOWN_GRACE_MS', 10_000, 0, 300_000),
    logLevel: e.string('LOG_LEVEL', 'info'),
    redisUrl: optionalUrl(e.optional('REDIS_URL'), e.optional('REDIS_PASSWORD')),
    loginThrottle: loadLoginThrottleConfig(env),
  };
}

/** LOGIN_THROTTLE_* and FORWARDED_FOR_HOPS, checked; see `LoginThrottleConfig` for units and defaults. */
export function loadLoginThrottleConfig(env: NodeJS.ProcessEnv): LoginThrottleConfig {
  const e = envReader(env);
  const d = DEFAULT_LOGIN_THROTTLE;
  const config: LoginThrottleConfig = {
    accountFailures: e.int('LOGIN_THROTTLE_ACCOUNT_FAILURES', d.accountFailures, 1, 1000),
    clientFailures: e.int('LOGIN_THROTTLE_CLIENT_FAILURES', d.clientFailures, 1, 100_000),
    firstWaitSeconds: e.int('LOGIN_THROTTLE_FIRST_WAIT_SECONDS', d.firstWaitSeconds, 1, 86_400),
    maxWaitSeconds: e.int('LOGIN_THROTTLE_MAX_WAIT_SECONDS', d.maxWaitSeconds, 1, 86_400),
    windowSeconds: e.int('LOGIN_THROTTLE_WINDOW_SECONDS', d.windowSeconds, 1, 86_400),
    forwardedForHops: e.int('FORWARDED_FOR_HOPS', d.forwardedForHops, 0, 10),
    keyPrefix: e.string('LOGIN_THROTTLE_KEY_PREFIX', d.keyPrefix),
  };
  if (config.firstWaitSeconds > config.maxWaitSeconds) {
    throw new ConfigError(
      `LOGIN_THROTTLE_FIRST_WAIT_SECONDS (${config.firstWaitSeconds}) must not exceed LOGIN_THROTTLE_MAX_WAIT_SECONDS (${config.maxWaitSeconds})`,
    );
  }
  return config;
}
