import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { PROXY_ERRORS, sendError } from '../errors.ts';
import { isSafeMethod } from '../resilience/upstream-failure.ts';
import { admitRequest, type Admitted, type Refusal } from './admit-request.ts';
import { deliverResponse } from './deliver-response.ts';
import { forwardRequest, type Outcome } from './forward-request.ts';
import type { HandlerDeps } from './handler-deps.ts';
import type { KeyedRequest } from './idempotency-guard.ts';
import type { TrackedWrite } from './in-flight-writes.ts';
import { BodyError, declaresBody, EMPTY_BODY, readBody } from './read-body.ts';
import { RequestEnd } from './request-end.ts';
import { accessLog } from './access-log.ts';
import type { UpstreamResponse } from './upstream-attempt.ts';
import { clientProto, requestIdOf, upstreamHeaders } from './upstream-headers.ts';
import { uidCookie } from './user-key.ts';

export type { HandlerDeps } from './handler-deps.ts';

/** What metrics and the access log say of a request, filled in as its phases learn it. */
interface Labels {
  route: string;
  mode: string;
  upstream: string;
}

/** The body, and the Idempotency-Key's state when the request is a keyed write. */
interface ReadRequest {
  body: Buffer;
  key: string | undefined;
  keyedWrite: KeyedRequest | undefined;
}

/**
 * Handles one request on the public port, in named phases: admit (drain, hardening, normalise,
 * route, preview, freeze) → read the body and the key → plan the mirror → forward (falling back
 * when that is safe) → deliver → log. What each phase takes is let go in one place when the
 * request ends (`RequestEnd`). Plain node:http; nothing else sits on this path.
 */
export function createRequestHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { metrics, log } = deps;
  const access = accessLog(log);

  return (req, res) => {
    const started = performance.now();
    const requestId = requestIdOf(req);
    const end = new RequestEnd(res);
    const labels: Labels = { route: 'none', mode: 'none', upstream: 'proxy' };
    const untrack = metrics.trackRequest();
    end.add(() => {
      untrack();
      metrics.observeRequest(labels.route, labels.upstream, labels.mode, res.statusCode, (performance.now() - started) / 1000);
    });
    const refuse = (r: Omit<Refusal, 'ok'>): void => {
      metrics.rejected.inc({ reason: r.code });
      sendError(res, r.code, { message: r.message, close: r.close, headers: r.headers, requestId });
    };

    const admitted = admitRequest(deps, req);
    if (!admitted.ok) {
      if (admitted.routeName) labels.route = admitted.routeName;
      return refuse(admitted);
    }
    labels.route = admitted.routeName;
    labels.mode = admitted.mode;
    // Counted from here, not from forwarding: a write that has been routed must be waited for.
    const write = isSafeMethod(admitted.method) ? undefined : deps.inFlightWrites.enter(admitted.table.version);
    if (write) end.add(write.release);

    void (async () => {
      // Most requests declare no body: nothing to wait for (an await and an async call fewer).
      const read = declaresBody(req)
        ? await readRequest(deps, req, res, admitted, end, write)
        : checkKey(deps, req, admitted, end, write, EMPTY_BODY);
      if (read === 'gone') return;
      if ('code' in read) return refuse(read);
      const { table, decision } = admitted;
      const headers = upstreamHeaders(req, {
        requestId,
        bodyLength: read.body.length,
        trustedProxyHops: deps.config.trustedProxyHops,
        keepDryRun: deps.keepDryRun,
      });
      const mirror = planMirror(deps, admitted, read.body, headers, end);
      const forwardedAt = performance.now();
      const outcome = await forwardRequest(
        deps,
        { req, res, end, headers, body: read.body, path: admitted.target, method: admitted.method, write },
        {
          primary: read.keyedWrite?.side ?? decision.upstream,
          fallbackTo: table.defaultUpstream,
          // A preview goes where the tester asked; a keyed retry goes where its key went.
          pinned: admitted.previewing || read.keyedWrite?.side !== undefined,
          route: admitted.routeName,
          reached: read.keyedWrite?.reached,
        },
      );
      labels.upstream = outcome.upstream;
      if (outcome.kind === 'response' && outcome.release) end.add(outcome.release);
      if (outcome.kind === 'error') answerFailure(deps, res, outcome, { req, requestId, admitted, read });
      else
        deliverResponse(res, outcome.response, {
          requestId,
          setUid: uidSetCookie(deps, req, admitted),
          tee: mirror?.(outcome.response, forwardedAt),
          teeLimit: deps.shadow?.limits.maxBodyBytes ?? 0,
        });
      if (access) {
        res.on('finish', () =>
          access({
            requestId,
            method: admitted.method,
            path: admitted.path.path,
            status: res.statusCode,
            route: labels.route,
            mode: labels.mode,
            target: labels.upstream,
            fallback: outcome.fallback,
            ms: Math.round(performance.now() - started),
          }),
        );
      }
    })().catch((err: unknown) => {
      log.error({ err, requestId }, 'request handling failed');
      sendError(res, 'internal_error', { requestId });
    });
  };
}

/** Reads the body within the buffered-bytes budget, then checks the Idempotency-Key. `'gone'`: the client left (nothing to answer). */
async function readRequest(
  deps: HandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  a: Admitted,
  end: RequestEnd,
  write: TrackedWrite | undefined,
): Promise<ReadRequest | Omit<Refusal, 'ok'> | 'gone'> {
  const { limits } = deps.config;
  const budget = deps.bodyBudget;
  // Held until the request ends: a fallback may still need to resend the body.
  let held = 0;
  end.add(() => budget.give(held));
  let body: Buffer;
  try {
    body = await readBody(req, {
      maxBytes: limits.maxBodyBytes,
      deadline: Date.now() + limits.requestTimeoutMs,
      take: (bytes) => {
        if (!budget.tryTake(bytes)) return false;
        held += bytes;
        return true;
      },
    });
  } catch (err) {
    const reason = err instanceof BodyError ? err.reason : 'aborted';
    if (reason === 'too_large')
      return { code: 'payload_too_large', message: `the body must be at most ${limits.maxBodyBytes} bytes`, close: true };
    if (reason === 'over_budget') return { code: 'proxy_overloaded', close: true, headers: { 'retry-after': '1' } };
    if (reason === 'timeout') return { code: 'request_timeout', close: true };
    // The client left, or the parser refused the body (the clientError handler has answered then).
    deps.metrics.rejected.inc({ reason: 'client_aborted' });
    if (!res.headersSent) req.destroy();
    return 'gone';
  }
  return checkKey(deps, req, a, end, write, body);
}

/** The Idempotency-Key's check, once the body is read: a keyed write is remembered, and a retry of one goes to the side its key reached. */
function checkKey(
  deps: HandlerDeps,
  req: IncomingMessage,
  a: Admitted,
  end: RequestEnd,
  write: TrackedWrite | undefined,
  body: Buffer,
): ReadRequest | Omit<Refusal, 'ok'> {
  const key = req.headers['idempotency-key'] as string | undefined;
  if (!key) return { body, key, keyedWrite: undefined };
  const begun = deps.idempotency.begin(a.user.value, key, a.method, a.target, body);
  if ('error' in begun) return { code: begun.error };
  end.add(begun.release);
  if (!write) return { body, key, keyedWrite: undefined };
  // Only that side's idempotency record knows whether the first attempt was applied.
  if (begun.side && !a.table.upstreams.has(begun.side)) {
    return {
      code: 'upstream_unreachable',
      message: `The upstream "${begun.side}" that saw this Idempotency-Key's first attempt is no longer configured; the write cannot be retried safely elsewhere.`,
    };
  }
  return { body, key, keyedWrite: begun };
}

/**
 * Shadow mode: a sample of the route's reads (and writes, when it opts in) is admitted for a
 * mirror now, and handed over once the monolith's answer has gone to the client — the client never
 * waits for the copy. Not for a preview: it goes where the tester asked, and compares with nothing.
 * Returns the tee to put on the answer, or undefined.
 */
function planMirror(
  deps: HandlerDeps,
  a: Admitted,
  body: Buffer,
  headers: OutgoingHttpHeaders,
  end: RequestEnd,
): ((response: UpstreamResponse, forwardedAt: number) => (primary: readonly Buffer[] | undefined, bytes: number) => void) | undefined {
  const { decision, table } = a;
  const shadow = decision.mode === 'shadow' && !a.previewing ? decision.route?.shadow : undefined;
  if (!shadow || !deps.shadow || !decision.mirrorTo || !(isSafeMethod(a.method) || shadow.writes) || Math.random() >= shadow.sampleRate)
    return undefined;
  const mirror = deps.shadow;
  const target = deps.upstreams.find(decision.mirrorTo);
  const slot = target && mirror.admit(a.routeName, body.length, target.mirrorBreaker);
  if (!slot) return undefined;
  // Released if the answer never completes (the client left, the monolith failed).
  end.add(slot.cancel);
  return (response, forwardedAt) => (primary, bytes) => {
    if (!primary) {
      slot.cancel();
      return void mirror.drop(a.routeName, 'body_too_large');
    }
    slot.run({
      route: a.routeName,
      shadow,
      method: a.method,
      path: a.target,
      headers,
      dryRunMark: deps.dryRunMarks.issue(),
      body,
      primary: { status: response.status, headers: response.headers, body: primary, bytes, ms: performance.now() - forwardedAt },
      monolithUrl: table.upstreams.get(table.defaultUpstream)!.url,
      targetUrl: table.upstreams.get(decision.mirrorTo!)!.url,
      pattern: decision.route!.path,
    });
  };
}

/** The Set-Cookie of the uid made for this request (by its canary split or its Idempotency-Key), or undefined when none was. */
function uidSetCookie(deps: HandlerDeps, req: IncomingMessage, a: Admitted): string | undefined {
  const uid = a.user.newUid;
  return uid === undefined ? undefined : uidCookie(uid, clientProto(req, deps.config.trustedProxyHops) === 'https');
}

/** The proxy's answer when no upstream answered usably; a keyed write's says how to retry it. */
function answerFailure(
  deps: HandlerDeps,
  res: ServerResponse,
  outcome: Extract<Outcome, { kind: 'error' }>,
  r: { req: IncomingMessage; requestId: string; admitted: Admitted; read: ReadRequest },
): void {
  deps.metrics.rejected.inc({ reason: outcome.code });
  const setUid = uidSetCookie(deps, r.req, r.admitted);
  const keyedWrite = r.read.keyedWrite !== undefined;
  const unknownOutcome = keyedWrite && (outcome.code === 'upstream_timeout' || outcome.code === 'upstream_reset');
  sendError(res, outcome.code, {
    // A new user's cookie goes with errors too: the retry of a keyed write must be theirs.
    headers: setUid ? { ...outcome.headers, 'set-cookie': setUid } : outcome.headers,
    requestId: r.requestId,
    idempotencyKey: keyedWrite ? r.read.key : undefined,
    ...(unknownOutcome
      ? {
          message: `${PROXY_ERRORS[outcome.code].message} Retry with the same Idempotency-Key: the retry goes to the service that saw this attempt, which applies it at most once.`,
        }
      : {}),
  });
}
