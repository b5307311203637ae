import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { AppContext } from './app-context.ts';
import { authRoutes } from './auth/auth-routes.ts';
import { sessionMiddleware } from '@strangler/service-kit';
import { errorHandler } from '@strangler/service-kit';
import { ApiError } from '@strangler/service-kit';
import { requireJsonBody } from '@strangler/service-kit';
import { listingRoutes } from './listings/listing-routes.ts';
import { orderRoutes } from './orders/order-routes.ts';
import { pageRoutes } from './pages/page-routes.ts';
import { supplierRoutes } from './suppliers/supplier-routes.ts';

/** Largest JSON body accepted; a listing description (5 000 chars) fits many times over. */
export const BODY_LIMIT_BYTES = 100 * 1024;

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  );
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  next();
}

/** The monolith's HTTP app: health, the JSON API under /api, and the pages. */
export function createApp(ctx: AppContext, log: Logger): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(securityHeaders);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ok = await ctx.db.ping();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'database unreachable' });
  });

  const api = express.Router();
  api.use(requireJsonBody);
  api.use(express.json({ limit: BODY_LIMIT_BYTES, strict: true }));
  api.use(sessionMiddleware(ctx.tokens, ctx.revocations));
  api.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  api.use('/auth', authRoutes(ctx));
  api.use('/suppliers', supplierRoutes(ctx));
  api.use('/listings', listingRoutes(ctx));
  api.use('/orders', orderRoutes(ctx));
  api.use((req, _res, next) => next(new ApiError('not_found', { message: `No API endpoint ${req.method} ${req.baseUrl}${req.path}.` })));
  app.use('/api', api);

  app.use(pageRoutes());
  app.use(errorHandler(log));
  return app;
}
