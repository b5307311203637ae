import type { ApiAppOptions } from '@strangler/service-kit';
import type { AppContext } from './app-context.ts';
import { authRoutes } from './auth/auth-routes.ts';
import { listingRoutes } from './listings/listing-routes.ts';
import { orderRoutes } from './orders/order-routes.ts';
import { pageRoutes } from './pages/page-routes.ts';
import { reservationRoutes } from './reservations/reservation-routes.ts';
import { supplierRoutes } from './suppliers/supplier-routes.ts';

/** The monolith on the shared skeleton: the whole JSON API under /api, and the pages. */
export function monolithRoutes(ctx: AppContext): Pick<ApiAppOptions, 'api' | 'after'> {
  return {
    api: {
      '/auth': authRoutes(ctx),
      '/suppliers': supplierRoutes(ctx),
      '/listings': listingRoutes(ctx),
      '/reservations': reservationRoutes(ctx),
      '/orders': orderRoutes(ctx),
    },
    after: (app) => app.use(pageRoutes()),
  };
}
