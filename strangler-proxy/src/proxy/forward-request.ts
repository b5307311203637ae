import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ProxyErrorCode } from '../errors.ts';
import { failureResponse, mayFallBack, type UpstreamFailure } from '../resilience/upstream-failure.ts';
import type { HandlerDeps } from './handler-deps.ts';
import type { TrackedWrite } from './in-flight-writes.ts';
import type { RequestEnd } from './request-end.ts';
import { attemptUpstream, type AttemptResult, type UpstreamResponse } from './upstream-attempt.ts';

/** The request as every attempt sends it: the same bytes to whichever upstream. */
export interface Forwarding {
  req: IncomingMessage;
  res: ServerResponse;
  /** Where an attempt leaves what to do if the client goes before its answer is delivered. */
  end: RequestEnd;
  headers: OutgoingHttpHeaders;
  body: Buffer;
  /** Path and query, normalised. */
  path: string;
  method: string;
  /** Set for a write: kept counted in flight while any of its attempts may still run upstream. */
  write: TrackedWrite | undefined;
}

/** Where to send it, and what may change that. */
export interface ForwardPlan {
  primary: string;
  fallbackTo: string;
  /** A preview, or a keyed retry going where its key went: nowhere else, whatever happens. */
  pinned: boolean;
  route: string;
  /** Told of each upstream an attempt may have reached (a keyed write's memory). */
  reached: ((upstream: string) => void) | undefined;
}

export type Outcome =
  | { kind: 'response'; response: UpstreamResponse; upstream: string; fallback: boolean; release?: () => void }
  | { kind: 'error'; code: ProxyErrorCode; headers?: Record<string, string>; upstream: string; fallback: boolean };

/** The client went away: nothing left to answer, so no attempt more. (req.destroyed is no test: a request whose body has been read is destroyed by then.) */
const clientGone = (f: Forwarding): boolean => f.res.destroyed || f.req.socket.destroyed;

/** Whether an attempt's request may have reached its upstream: it answered, or bytes left the proxy. */
const mayHaveReached = (r: AttemptResult): boolean => r.kind === 'response' || r.failure.sent;

/**
 * Tries the primary; on failure, the fallback when that is safe (a read, or a write that certainly
 * never left the proxy), within the fallback cap; else the failure's one mapped answer.
 */
export async function forwardRequest(deps: HandlerDeps, f: Forwarding, plan: ForwardPlan): Promise<Outcome> {
  const canFallBack = (failure: UpstreamFailure): boolean =>
    plan.primary !== plan.fallbackTo && !plan.pinned && !clientGone(f) && mayFallBack(f.method, failure);
  const first = await attemptVia(deps, f, plan.primary);
  if (mayHaveReached(first)) plan.reached?.(plan.primary);
  if (first.kind === 'response') {
    if (first.response.status < 500 || !canFallBack({ cause: 'status_5xx', sent: true })) {
      return { kind: 'response', response: first.response, upstream: plan.primary, fallback: false };
    }
    first.response.discard();
  } else {
    deps.metrics.upstreamErrors.inc({ upstream: plan.primary, cause: first.failure.cause });
    if (!canFallBack(first.failure)) return { kind: 'error', ...failureResponse(first.failure), upstream: plan.primary, fallback: false };
  }
  const release = deps.fallbackLimit.tryAcquire();
  if (!release) {
    deps.metrics.fallbacks.inc({ route: plan.route, from: plan.primary, outcome: 'overloaded' });
    return { kind: 'error', code: 'fallback_overloaded', headers: { 'retry-after': '1' }, upstream: plan.primary, fallback: true };
  }
  const second = await attemptVia(deps, f, plan.fallbackTo);
  if (mayHaveReached(second)) plan.reached?.(plan.fallbackTo);
  if (second.kind === 'response') {
    deps.metrics.fallbacks.inc({ route: plan.route, from: plan.primary, outcome: 'ok' });
    return { kind: 'response', response: second.response, upstream: plan.fallbackTo, fallback: true, release };
  }
  release();
  deps.metrics.fallbacks.inc({ route: plan.route, from: plan.primary, outcome: 'failed' });
  deps.metrics.upstreamErrors.inc({ upstream: plan.fallbackTo, cause: second.failure.cause });
  return { kind: 'error', ...failureResponse(second.failure), upstream: plan.fallbackTo, fallback: true };
}

/**
 * One attempt at one upstream, if its breaker admits it; the outcome is reported on the permit,
 * never thrown. A write's attempt is tracked until the upstream is done with it — its answer read,
 * or, when the proxy gave up after sending (timeout, reset, the client left), the upstream's
 * timeout later, since the upstream may still commit it — so that a writer switch waits for the
 * work, not the response. (One async step per attempt: each layer more is a promise and a
 * microtask per request.)
 */
async function attemptVia(deps: HandlerDeps, f: Forwarding, name: string): Promise<AttemptResult> {
  const upstream = deps.upstreams.get(name);
  const permit = upstream.breaker.admit();
  if (!permit.admitted) return { kind: 'failure', failure: { cause: 'breaker_open', sent: false, retryAfterMs: permit.retryAfterMs } };
  const done = f.write?.hold();
  const result = await attemptUpstream(
    { pool: upstream.pool, method: f.method, headers: f.headers, path: f.path, body: f.body, timeoutMs: upstream.spec.timeoutMs },
    f.end,
  );
  if (result.kind === 'response') permit.done(result.response.status >= 500 ? 'failure' : 'success');
  // A client that went away is not the upstream's fault.
  else permit.done(clientGone(f) ? 'not_counted' : 'failure');
  if (done) {
    if (result.kind === 'response') result.response.onDone(done);
    else {
      if (result.failure.sent) f.write!.holdFor(upstream.spec.timeoutMs);
      done();
    }
  }
  return result;
}
