import type { Request } from 'express';
import { SESSION_COOKIE } from '../auth/session-middleware.ts';
import { parseCookies } from './cookies.ts';
import { DRY_RUN_HEADER, dryRunMarkOf } from './dry-run.ts';
import { ApiError, ERRORS, type ErrorCode, type FieldErrors } from './errors.ts';

/** Who an internal call is made for: the caller's session, and whether its write is a dry run. */
export interface Caller {
  /** The session token of the request being served, forwarded so the other side applies its own checks. */
  sessionToken: string | undefined;
  dryRun: boolean;
  /** The dry-run header's value, passed on unchanged: the proxy keeps it only if it issued it. */
  dryRunMark?: string | undefined;
}

export const callerOf = (req: Request): Caller => {
  const dryRunMark = dryRunMarkOf(req);
  return { sessionToken: parseCookies(req.headers.cookie).get(SESSION_COOKIE), dryRun: dryRunMark !== undefined, dryRunMark };
};

const isKnownCode = (code: unknown): code is ErrorCode => typeof code === 'string' && Object.hasOwn(ERRORS, code);

/**
 * One call to the API of another part of the system, as the caller (their session cookie; the
 * dry-run header when their write is one). Through the strangler proxy, so the route table decides
 * which side answers. The other side's 4xx errors come back as the same ApiError (code, message,
 * fields), so they reach our client unchanged; anything that means "not now" (no connection, a
 * timeout, a 5xx, a frozen route) becomes 503 service_unavailable with Retry-After, so the client
 * retries rather than gives up.
 */
export async function callApi<T>(
  baseUrl: string,
  method: string,
  path: string,
  caller: Caller,
  opts: { body?: unknown; timeoutMs?: number; what: string },
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (caller.sessionToken) headers.cookie = `${SESSION_COOKIE}=${encodeURIComponent(caller.sessionToken)}`;
  if (caller.dryRun) headers[DRY_RUN_HEADER] = caller.dryRunMark ?? '1';
  const unavailable = (cause: unknown, retryAfterSeconds = 1): ApiError =>
    new ApiError('service_unavailable', {
      message: `${opts.what} is briefly unavailable; try again in a moment.`,
      cause,
      retryAfterSeconds,
    });
  let res: Response;
  try {
    res = await fetch(baseUrl + path, {
      method,
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
  } catch (err) {
    throw unavailable(err);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch (err) {
    throw res.ok ? new ApiError('internal_error', { cause: err }) : unavailable(err);
  }
  if (res.ok) return { status: res.status, body: body as T };
  const error = (body as { error?: { code?: unknown; message?: unknown; fields?: FieldErrors } } | undefined)?.error;
  if (res.status >= 500) {
    const retry = Number(res.headers.get('retry-after'));
    throw unavailable(new Error(`${method} ${path} answered ${res.status}`), Number.isInteger(retry) && retry > 0 ? retry : 1);
  }
  // A 4xx we do not know is a request we built wrong: our bug, not the client's.
  if (!isKnownCode(error?.code)) throw new ApiError('internal_error', { cause: new Error(`${method} ${path} answered ${res.status}`) });
  throw new ApiError(error.code, {
    ...(typeof error.message === 'string' ? { message: error.message } : {}),
    ...(error.fields ? { fields: error.fields } : {}),
  });
}
