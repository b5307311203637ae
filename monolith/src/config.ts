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
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): MonolithConfig {
  if (!env.DATABASE_URL) throw new ConfigError('DATABASE_URL is required: the PostgreSQL URL of the monolith database');
  const secrets = (env.SESSION_SECRET ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!secrets.length || secrets.some((s) => s.length < 32)) {
    throw new ConfigError('SESSION_SECRET is required: one or more comma-separated keys of at least 32 characters');
  }
  return Object.freeze({
    databaseUrl: env.DATABASE_URL,
    port: int(env, 'PORT', 3000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    sessionSecrets: secrets,
    secureCookies: bool(env, 'SECURE_COOKIES', false),
    seedWhenEmpty: bool(env, 'SEED_WHEN_EMPTY', true),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 300_000),
    logLevel: env.LOG_LEVEL || 'info',
  });
}
