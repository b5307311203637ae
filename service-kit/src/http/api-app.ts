import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { SessionRevocations } from '../auth/revocations.ts';
import { sessionMiddleware } from '../auth/session-middleware.ts';
import type { SessionTokens } from '../auth/session-token.ts';
import type { Database } from '../db/database.ts';
import { errorHandler } from './error-handler.ts';
import { ApiError } from './errors.ts';
import { requireJsonBody } from './require-json.ts';

/** Largest JSON body accepted; a listing description (5 000 chars) fits many times over. */
export const BODY_LIMIT_BYTES = 100 * 1024;

/** The same on every response of every app, so a page or an API answer does not depend on who served it. */
function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  );
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  next();
}

export interface ApiAppOptions {
  db: Database;
  tokens: SessionTokens;
  revocations: SessionRevocations;
  log: Logger;
  /** Routers mounted under /api, by path (`/listings`). */
  api: Record<string, Router>;
  /** Anything served outside /api (the monolith's pages), after it. */
  after?: (app: express.Express) => void;
}

/**
 * The skeleton every app shares: security headers, `/healthz`, `/readyz` (database reachable), the
 * JSON API under `/api` (JSON bodies only, sessions, no caching, 404 in the API's shape) and the one
 * error handler. Apps differ only in the routers they mount.
 */
export function createApiApp(opts: ApiAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(securityHeaders);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ok = await opts.db.ping();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'database unreachable' });
  });

  const api = express.Router();
  api.use(requireJsonBody);
  api.use(express.json({ limit: BODY_LIMIT_BYTES, strict: true }));
  api.use(sessionMiddleware(opts.tokens, opts.revocations));
  api.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  for (const [path, router] of Object.entries(opts.api)) api.use(path, router);
  api.use((req, _res, next) => next(new ApiError('not_found', { message: `No API endpoint ${req.method} ${req.baseUrl}${req.path}.` })));
  app.use('/api', api);

  opts.after?.(app);
  app.use(errorHandler(opts.log));
  return app;
}
