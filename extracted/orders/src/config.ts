import { envReader, loadAppConfig, type AppConfig } from '@strangler/service-kit';

/** Everything the orders service reads from its environment (PORT defaults to 3103); the only module that touches process.env. */
export interface OrdersConfig extends AppConfig {
  /**
   * The strangler proxy (API_BASE_URL, required): stock is reserved through the listings API there,
   * so it is taken wherever listings are served at that moment.
   */
  apiBaseUrl: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): OrdersConfig {
  const apiBaseUrl = envReader(env).required('API_BASE_URL', 'the strangler proxy, through which orders reserve stock (http://host:port)');
  return Object.freeze({ ...loadAppConfig(env, { defaultPort: 3103, database: 'orders' }), apiBaseUrl: apiBaseUrl.replace(/\/+$/, '') });
}
