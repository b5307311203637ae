import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { servicePool, startApp, type RunningApp } from '@strangler/service-kit';
import type { OrdersConfig } from './config.ts';
import { orderRoutes } from './orders/order-routes.ts';
import { StockClient } from './orders/stock-client.ts';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../migrations');

/** Migrates the orders database and serves /api/orders, reserving stock through the proxy. */
export function startOrdersService(config: OrdersConfig, log: Logger): Promise<RunningApp> {
  return startApp({
    name: 'orders',
    config,
    migrationsDir: MIGRATIONS_DIR,
    log,
    database: servicePool(),
    routes: (kit) => ({ api: { '/orders': orderRoutes({ ...kit, stock: new StockClient(() => config.apiBaseUrl) }) } }),
  });
}
