import type { NextFunction, Request, Response } from 'express';
import { ApiError } from './errors.ts';

/**
 * A write with a body (or a declared content type) must be JSON. Besides giving a clear 415, this is the CSRF guard of
 * the cookie session: a cross-site form can only send form or text bodies, and a cross-site fetch
 * with application/json needs a CORS preflight that the app never grants.
 */
export function requireJsonBody(req: Request, _res: Response, next: NextFunction): void {
  const safe = req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS';
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  // An empty form post still names its type: refuse it too, not only posts that carry a body.
  if (!safe && (hasBody || req.headers['content-type'] !== undefined) && !req.is('application/json')) {
    next(new ApiError('unsupported_media_type'));
    return;
  }
  next();
}
