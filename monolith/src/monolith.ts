import type { Logger } from 'pino';
import { createDatabase, startApp, type RunningApp } from '@strangler/service-kit';
import { monolithRoutes } from './app.ts';
import type { MonolithConfig } from './config.ts';
import { MIGRATIONS_DIR } from './db/migrations-dir.ts';
import { StockClient } from './orders/stock-client.ts';
import { seedIfEmpty } from './seed/seed.ts';

export type RunningMonolith = RunningApp;

/** Migrates, seeds an empty database when configured to, and starts listening. */
export function startMonolith(config: MonolithConfig, log: Logger): Promise<RunningMonolith> {
  return startApp({
    name: 'monolith',
    config,
    migrationsDir: MIGRATIONS_DIR,
    log,
    prepare: async (db) => {
      if (!config.seedWhenEmpty) return;
      const seeded = await seedIfEmpty(db);
      if (seeded) log.info(seeded, 'empty database seeded');
    },
    routes: (kit) => {
      const ordersDb = createDatabase({ connectionString: config.databaseUrl, applicationName: 'monolith' });
      // Stock is reserved through the listings API at API_BASE_URL (the proxy), else at this process.
      const stock = new StockClient(() => config.apiBaseUrl ?? kit.url());
      return { ...monolithRoutes({ ...kit, ordersDb, stock, secureCookies: config.secureCookies }), close: () => ordersDb.close() };
    },
  });
}
