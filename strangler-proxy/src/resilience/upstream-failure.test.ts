import { describe, expect, it } from 'vitest';
import { classifyUpstreamError, failureResponse, mayFallBack, type UpstreamFailure } from './upstream-failure.ts';

describe('failureResponse', () => {
  it.each<[UpstreamFailure, string, number | undefined]>([
    [{ cause: 'refused', sent: false }, 'upstream_unreachable', undefined],
    [{ cause: 'connect_timeout', sent: false }, 'upstream_unreachable', undefined],
    [{ cause: 'reset', sent: true }, 'upstream_reset', undefined],
    [{ cause: 'timeout', sent: true }, 'upstream_timeout', undefined],
    [{ cause: 'breaker_open', sent: false, retryAfterMs: 4200 }, 'circuit_open', 5],
    [{ cause: 'unsendable', sent: false }, 'bad_request', undefined],
  ])('when %o, then %s', (failure, code, retryAfter) => {
    const r = failureResponse(failure);
    expect(r.code).toBe(code);
    expect(r.headers?.['retry-after']).toBe(retryAfter === undefined ? undefined : String(retryAfter));
  });
});

describe('mayFallBack', () => {
  const sent: UpstreamFailure = { cause: 'timeout', sent: true };
  const unsent: UpstreamFailure = { cause: 'refused', sent: false };
  it('when the request is a read, then always', () => {
    for (const m of ['GET', 'HEAD', 'OPTIONS']) expect(mayFallBack(m, sent)).toBe(true);
  });
  it('when a write may have reached the target, then never, key or no key; when it certainly did not, then yes', () => {
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect(mayFallBack(m, sent)).toBe(false);
      expect(mayFallBack(m, { cause: 'status_5xx', sent: true })).toBe(false);
      expect(mayFallBack(m, unsent)).toBe(true);
      expect(mayFallBack(m, { cause: 'breaker_open', sent: false })).toBe(true);
    }
  });
});

describe('classifyUpstreamError', () => {
  it('when refused or unresolvable, then nothing was sent; a reset after connecting was', () => {
    expect(classifyUpstreamError('ECONNREFUSED', false)).toEqual({ cause: 'refused', sent: false });
    expect(classifyUpstreamError('ENOTFOUND', false)).toEqual({ cause: 'dns', sent: false });
    expect(classifyUpstreamError('ECONNRESET', true)).toEqual({ cause: 'reset', sent: true });
    expect(classifyUpstreamError('ECONNRESET', false)).toEqual({ cause: 'reset', sent: false });
  });
  it('when the client library gave up connecting, refused to send the request, or saw the connection close, then it says so in its own codes', () => {
    expect(classifyUpstreamError('UND_ERR_CONNECT_TIMEOUT', false)).toEqual({ cause: 'connect_timeout', sent: false });
    expect(classifyUpstreamError('UND_ERR_INVALID_ARG', false)).toEqual({ cause: 'unsendable', sent: false });
    expect(classifyUpstreamError('UND_ERR_SOCKET', true)).toEqual({ cause: 'reset', sent: true });
  });
});
