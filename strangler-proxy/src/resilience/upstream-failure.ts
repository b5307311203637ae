import type { ProxyErrorCode } from '../errors.ts';

/**
 * Why an attempt at an upstream produced no usable response, and whether any byte of the request
 * may have reached it: the one fact that decides whether a write can safely go elsewhere.
 */
export type FailureCause = 'breaker_open' | 'refused' | 'connect_timeout' | 'dns' | 'timeout' | 'reset' | 'unsendable' | 'status_5xx';

export interface UpstreamFailure {
  cause: FailureCause;
  /** False only when the upstream certainly saw nothing of the request. */
  sent: boolean;
  /** Milliseconds until an open breaker lets a probe through. */
  retryAfterMs?: number;
}

/**
 * An upstream request's error code (a socket's errno, or undici's own) → cause; `sent` says whether
 * the request had started on a connection, so that some of it may have reached the upstream.
 */
export function classifyUpstreamError(code: string | undefined, sent: boolean): UpstreamFailure {
  switch (code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { cause: 'refused', sent: false };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { cause: 'dns', sent: false };
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { cause: 'connect_timeout', sent: false };
    // A request the client library would not put on the wire (a header or method it refuses).
    case 'UND_ERR_INVALID_ARG':
      return { cause: 'unsendable', sent: false };
    default:
      return { cause: 'reset', sent };
  }
}

/** The proxy's answer when an upstream failure cannot be recovered: one place, pure. */
export function failureResponse(f: UpstreamFailure): { code: ProxyErrorCode; headers?: Record<string, string> } {
  switch (f.cause) {
    case 'breaker_open':
      return { code: 'circuit_open', headers: { 'retry-after': String(Math.max(1, Math.ceil((f.retryAfterMs ?? 1000) / 1000))) } };
    case 'timeout':
      return { code: 'upstream_timeout' };
    case 'reset':
      return { code: f.sent ? 'upstream_reset' : 'upstream_unreachable' };
    case 'unsendable':
      return { code: 'bad_request' };
    case 'refused':
    case 'connect_timeout':
    case 'dns':
    case 'status_5xx':
      return { code: 'upstream_unreachable' };
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** GET, HEAD and OPTIONS change nothing (RFC 9110 §9.2.1); everything else is treated as a write. */
export const isSafeMethod = (method: string): boolean => SAFE_METHODS.has(method);

/**
 * Whether a request that failed at its target may be sent to the fallback upstream instead. Reads
 * always may. A write only when the target certainly never saw it (breaker open, connection
 * refused or never made): one write, one side. An Idempotency-Key does not change that — each side
 * keeps its own idempotency records, so a key replayed on the other side is a second write.
 */
export function mayFallBack(method: string, f: UpstreamFailure): boolean {
  return isSafeMethod(method) || !f.sent;
}
