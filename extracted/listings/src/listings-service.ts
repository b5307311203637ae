import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { servicePool, startApp, type RunningApp } from '@strangler/service-kit';
import type { ListingsConfig } from './config.ts';
import { listingRoutes } from './listings/listing-routes.ts';
import { reservationRoutes } from './reservations/reservation-routes.ts';
import { supplierRoutes } from './suppliers/supplier-routes.ts';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../migrations');

export type RunningListings = RunningApp;

/** Migrates the listings database and serves suppliers, listings and stock reservations. */
export function startListingsService(config: ListingsConfig, log: Logger): Promise<RunningListings> {
  return startApp({
    name: 'listings',
    config,
    migrationsDir: MIGRATIONS_DIR,
    log,
    database: servicePool(),
    routes: (ctx) => ({
      api: { '/suppliers': supplierRoutes(ctx), '/listings': listingRoutes(ctx), '/reservations': reservationRoutes(ctx) },
    }),
  });
}
