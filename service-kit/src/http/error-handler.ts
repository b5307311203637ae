import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { ApiError } from './errors.ts';

/** body-parser's error types, mapped to ours. */
const BODY_ERRORS: Record<string, ApiError['code']> = {
  'entity.too.large': 'payload_too_large',
  'entity.parse.failed': 'malformed_json',
  'encoding.unsupported': 'unsupported_media_type',
  'charset.unsupported': 'unsupported_media_type',
};

/** Turns any error into the API's one error shape; unknown errors are logged and answered 500, never with a stack. */
export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const apiError = toApiError(err);
    if (apiError.status >= 500) log.error({ err, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (apiError.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(apiError.retryAfterSeconds));
    res.status(apiError.status).json(apiError.toBody());
  };
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const type = (err as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && BODY_ERRORS[type]) return new ApiError(BODY_ERRORS[type], { cause: err });
  // express.static reports a missing asset as an http-errors 404.
  if ((err as { status?: unknown } | null)?.status === 404) return new ApiError('not_found', { cause: err });
  return new ApiError('internal_error', { cause: err });
}
