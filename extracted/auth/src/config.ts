import { envReader, loadAppConfig, type AppConfig } from '@strangler/service-kit';

/** Everything the auth service reads from its environment (PORT defaults to 3101); the only module that touches process.env. */
export interface AuthConfig extends AppConfig {
  /** Mark the session cookie Secure (SECURE_COOKIES=true behind TLS; default false). */
  secureCookies: boolean;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return Object.freeze({
    ...loadAppConfig(env, { defaultPort: 3101, database: 'auth' }),
    secureCookies: envReader(env).bool('SECURE_COOKIES', false),
  });
}
