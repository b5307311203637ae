import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { createDatabase, createRevocations, migrate, serve, SessionTokens, type Database } from '@strangler/service-kit';
import { createApp } from './app.ts';
import type { MonolithConfig } from './config.ts';
import { MIGRATIONS_DIR } from './db/migrations-dir.ts';
import { StockClient } from './orders/stock-client.ts';
import { seedIfEmpty } from './seed/seed.ts';

export interface RunningMonolith {
  /** http://host:port, with the port actually bound. */
  url: string;
  server: Server;
  db: Database;
  /** Stops accepting, lets requests in flight finish (up to the grace period), closes the pool. */
  close(): Promise<void>;
}

/** Migrates, seeds an empty database when configured to, and starts listening. */
export async function startMonolith(config: MonolithConfig, log: Logger): Promise<RunningMonolith> {
  const db = createDatabase({ connectionString: config.databaseUrl });
  try {
    const { applied } = await migrate(db, MIGRATIONS_DIR);
    if (applied.length) log.info({ applied }, 'migrations applied');
    if (config.seedWhenEmpty) {
      const seeded = await seedIfEmpty(db);
      if (seeded) log.info(seeded, 'empty database seeded');
    }
  } catch (err) {
    await db.close();
    throw err;
  }
  const revocations = createRevocations(config.redisUrl, db);
  const ordersDb = createDatabase({ connectionString: config.databaseUrl });
  let selfUrl = '';
  // Stock is reserved through the listings API at API_BASE_URL (the proxy), else at this process.
  const stock = new StockClient(() => config.apiBaseUrl ?? selfUrl);
  const app = createApp({ db, ordersDb, stock, tokens: new SessionTokens(config.sessionSecrets), revocations, secureCookies: config.secureCookies, log });
  const serving = await serve(app, { port: config.port, host: config.host, graceMs: config.shutdownGraceMs });
  selfUrl = serving.url;
  return {
    url: serving.url,
    server: serving.server,
    db,
    async close() {
      await serving.close();
      await revocations.close();
      await ordersDb.close();
      await db.close();
    },
  };
}
