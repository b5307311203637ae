import type { ServerResponse } from 'node:http';

/**
 * Every answer the proxy itself gives (rather than an upstream): stable code, status, and a message
 * saying what to do. Same shape as the app's errors, `{"error":{"code","message"}}`, so a client
 * sees one error format whoever answered. README.md documents each code.
 */
export const PROXY_ERRORS = {
  bad_request: { status: 400, message: 'The request is malformed.' },
  invalid_path: { status: 400, message: 'The request path is not allowed.' },
  invalid_host: { status: 400, message: 'The Host header must be a host name or address with an optional port, and nothing else.' },
  invalid_idempotency_key: { status: 400, message: 'Send one Idempotency-Key header of 1 to 255 visible ASCII characters.' },
  unauthorized: { status: 401, message: 'A valid admin token is required.' },
  cross_origin_request: { status: 403, message: 'This form must be posted from the admin listener’s own pages.' },
  admin_token_unset: {
    status: 403,
    message: 'This admin endpoint is served only when ADMIN_TOKEN is set on the proxy (at least 16 characters).',
  },
  not_found: { status: 404, message: 'Nothing exists at this address.' },
  request_timeout: { status: 408, message: 'The request took too long to arrive.' },
  idempotency_key_in_flight: {
    status: 409,
    message: 'A request with this Idempotency-Key is still being processed; retry when it has finished.',
  },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  uri_too_long: { status: 414, message: 'The request URL is too long.' },
  misdirected_request: { status: 421, message: 'This host is not served here.' },
  idempotency_key_reused: { status: 422, message: 'This Idempotency-Key was already used with a different request.' },
  request_header_fields_too_large: { status: 431, message: 'The request headers are too large or too many.' },
  upstream_unreachable: { status: 502, message: 'The service could not be reached; try again.' },
  upstream_reset: {
    status: 502,
    message: 'The service dropped the connection before answering; the request may or may not have been applied.',
  },
  circuit_open: { status: 503, message: 'The service is failing and temporarily bypassed; try again shortly.' },
  fallback_overloaded: { status: 503, message: 'Too many requests are being redirected right now; try again shortly.' },
  proxy_overloaded: {
    status: 503,
    message: 'The proxy is holding as many request bodies as it may right now; retry after the Retry-After delay.',
  },
  shutting_down: { status: 503, message: 'The proxy is restarting; try again.' },
  writes_frozen: {
    status: 503,
    message: 'Changes here are paused for a moment while the data moves between services; retry after the Retry-After delay.',
  },
  upstream_timeout: { status: 504, message: 'The service did not answer in time; the request may or may not have been applied.' },
  internal_error: { status: 500, message: 'Something went wrong in the proxy; try again.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ProxyErrorCode = keyof typeof PROXY_ERRORS;

/** Sends the proxy's error shape; `close` also ends the connection (after a framing error, it is unsafe to reuse). */
export function sendError(
  res: ServerResponse,
  code: ProxyErrorCode,
  opts: {
    message?: string;
    headers?: Record<string, string>;
    close?: boolean;
    requestId?: string;
    idempotencyKey?: string | undefined;
  } = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, message } = PROXY_ERRORS[code];
  // The key is echoed so a client that lost track of it can still retry the write exactly once.
  const body = JSON.stringify({
    error: { code, message: opts.message ?? message, ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}) },
  });
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.setHeader('cache-control', 'no-store');
  if (opts.requestId) res.setHeader('x-request-id', opts.requestId);
  if (opts.idempotencyKey) res.setHeader('idempotency-key', opts.idempotencyKey);
  for (const [k, v] of Object.entries(opts.headers ?? {})) res.setHeader(k, v);
  if (opts.close) res.setHeader('connection', 'close');
  res.end(body);
}
