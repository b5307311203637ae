import path from 'node:path';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { createApiApp, createDatabase, createRevocations, migrate, serve, SessionTokens, type Database } from '@strangler/service-kit';
import type { ListingsConfig } from './config.ts';
import { listingRoutes } from './listings/listing-routes.ts';
import { reservationRoutes } from './reservations/reservation-routes.ts';
import { supplierRoutes } from './suppliers/supplier-routes.ts';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../migrations');

export interface RunningListings {
  url: string;
  server: Server;
  db: Database;
  close(): Promise<void>;
}

/** Migrates the listings database and serves suppliers, listings and stock reservations. */
export async function startListingsService(config: ListingsConfig, log: Logger): Promise<RunningListings> {
  const db = createDatabase({ connectionString: config.databaseUrl });
  try {
    const { applied } = await migrate(db, MIGRATIONS_DIR);
    if (applied.length) log.info({ applied }, 'migrations applied');
  } catch (err) {
    await db.close();
    throw err;
  }
  const ctx = { db, tokens: new SessionTokens(config.sessionSecrets), revocations: createRevocations(config.redisUrl, db) };
  const app = createApiApp({
    ...ctx,
    log,
    api: { '/suppliers': supplierRoutes(ctx), '/listings': listingRoutes(ctx), '/reservations': reservationRoutes(ctx) },
  });
  const serving = await serve(app, { port: config.port, host: config.host, graceMs: config.shutdownGraceMs });
  return {
    url: serving.url,
    server: serving.server,
    db,
    async close() {
      await serving.close();
      await ctx.revocations.close();
      await db.close();
    },
  };
}
