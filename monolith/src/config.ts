import { envReader, loadAppConfig, type AppConfig } from '@strangler/service-kit';

/** Everything the monolith reads from its environment (PORT defaults to 3000); the only module that touches process.env. */
export interface MonolithConfig extends AppConfig {
  /** Mark the session cookie Secure (SECURE_COOKIES=true behind TLS; default false). */
  secureCookies: boolean;
  /** Seed the database when it has no users (SEED_WHEN_EMPTY, default true). */
  seedWhenEmpty: boolean;
  /**
   * Where the orders module reaches the listings API to reserve stock (API_BASE_URL): the strangler
   * proxy, so stock is taken wherever listings are served. Unset: this monolith itself.
   */
  apiBaseUrl: string | undefined;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): MonolithConfig {
  const e = envReader(env);
  return Object.freeze({
    ...loadAppConfig(env, { defaultPort: 3000, database: 'monolith' }),
    secureCookies: e.bool('SECURE_COOKIES', false),
    seedWhenEmpty: e.bool('SEED_WHEN_EMPTY', true),
    apiBaseUrl: e.optional('API_BASE_URL')?.replace(/\/+$/, ''),
  });
}
