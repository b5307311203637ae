import { loadAppConfig, type AppConfig } from '@strangler/service-kit';

/** Everything the listings service reads from its environment (PORT defaults to 3102); the only module that touches process.env. */
export type ListingsConfig = AppConfig;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ListingsConfig {
  return Object.freeze(loadAppConfig(env, { defaultPort: 3102, database: 'listings' }));
}
