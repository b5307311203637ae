import type express from 'express';
import { createApiApp } from '@strangler/service-kit';
import type { AppContext } from './app-context.ts';
import { authRoutes } from './auth/auth-routes.ts';
import { listingRoutes } from './listings/listing-routes.ts';
import { orderRoutes } from './orders/order-routes.ts';
import { pageRoutes } from './pages/page-routes.ts';
import { reservationRoutes } from './reservations/reservation-routes.ts';
import { supplierRoutes } from './suppliers/supplier-routes.ts';

/** The monolith's HTTP app: health, the whole JSON API under /api, and the pages. */
export function createApp(ctx: AppContext): express.Express {
  return createApiApp({
    db: ctx.db,
    tokens: ctx.tokens,
    revocations: ctx.revocations,
    log: ctx.log,
    api: {
      '/auth': authRoutes(ctx),
      '/suppliers': supplierRoutes(ctx),
      '/listings': listingRoutes(ctx),
      '/reservations': reservationRoutes(ctx),
      '/orders': orderRoutes(ctx),
    },
    after: (app) => app.use(pageRoutes()),
  });
}
