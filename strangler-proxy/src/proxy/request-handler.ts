import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ProxyConfig } from '../config/proxy-config.ts';
import type { RouteTableStore } from '../config/route-table-store.ts';
import { PROXY_ERRORS, sendError, type ProxyErrorCode } from '../errors.ts';
import type { ProxyMetrics } from '../metrics/metrics.ts';
import type { ByteBudget } from '../resilience/byte-budget.ts';
import type { ConcurrencyLimit } from '../resilience/concurrency-limit.ts';
import { failureResponse, isSafeMethod, mayFallBack, type UpstreamFailure } from '../resilience/upstream-failure.ts';
import { normalizePath } from '../routing/normalize-path.ts';
import type { RouteDecision } from '../routing/route-table.ts';
import { isAdminToken } from '../admin/admin-token.ts';
import { harden } from './hardening.ts';
import type { IdempotencyGuard, KeyedRequest } from './idempotency-guard.ts';
import type { InFlightWrites, TrackedWrite } from './in-flight-writes.ts';
import { BodyError, readBody } from './read-body.ts';
import { attemptUpstream, type AttemptResult } from './upstream-attempt.ts';
import { clientProto, requestIdOf, responseHeaders, upstreamHeaders } from './upstream-headers.ts';
import type { UpstreamRegistry } from './upstream-registry.ts';
import type { ShadowMirror } from '../shadow/shadow-mirror.ts';
import { DRY_RUN_HEADER, type DryRunMarks } from '../shadow/dry-run-mark.ts';
import { parseCookieHeader, uidCookie, userKeyOf } from './user-key.ts';

export interface HandlerDeps {
  config: ProxyConfig;
  store: RouteTableStore;
  upstreams: UpstreamRegistry;
  metrics: ProxyMetrics;
  fallbackLimit: ConcurrencyLimit;
  /** Bytes of request bodies the proxy may hold at once, all requests together. */
  bodyBudget: ByteBudget;
  idempotency: IdempotencyGuard;
  writes: InFlightWrites;
  /** Issues the dry-run marks of mirrored requests. */
  dryRunMarks: DryRunMarks;
  /** Whether a dry-run header on a request (an app's internal call for a mirrored write) may be passed on; counts the ones refused. */
  keepDryRun: (value: string) => boolean;
  /** Mirrors shadowed routes' requests; absent when no store for the results was set up. */
  shadow: ShadowMirror | undefined;
  log: Logger;
  /** True once shutdown has begun: new requests get 503. */
  draining: () => boolean;
}

/** The path prefix of the admin API; never forwarded, whatever the route table says;
 * checked per request, so a second request pipelined on the same connection is routed and authorised on its own. */
export const ADMIN_PREFIX = '__strangler';
const PREVIEW_HEADER = 'x-strangler-preview';
const TOKEN_HEADER = 'x-strangler-token';

type Outcome =
  | { kind: 'response'; result: Extract<AttemptResult, { kind: 'response' }>; upstream: string; fallback: boolean; release?: () => void }
  | { kind: 'error'; code: ProxyErrorCode; headers?: Record<string, string>; upstream: string; fallback: boolean };

/**
 * Handles one request on the public port: hardening → normalise → route → read body → forward,
 * falling back to the default upstream when that is safe → stream the answer. Plain node:http;
 * nothing else sits on this path.
 */
export function createRequestHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, metrics, log } = deps;

  return (req, res) => {
    const started = performance.now();
    const requestId = requestIdOf(req);
    const table = deps.store.current;
    let routeName = 'none';
    let mode = 'none';
    let target = 'proxy';
    const untrack = metrics.trackRequest();
    res.once('close', () => {
      untrack();
      metrics.observeRequest(routeName, target, mode, res.statusCode, (performance.now() - started) / 1000);
    });

    const reject = (code: ProxyErrorCode, opts: { message?: string; close?: boolean; headers?: Record<string, string> } = {}): void => {
      metrics.rejected.inc({ reason: code });
      sendError(res, code, { ...opts, requestId });
    };

    if (deps.draining()) return reject('shutting_down', { close: true, headers: { 'retry-after': '1' } });
    const refused = harden(req, config);
    if (refused) return reject(refused.code, { message: refused.message, close: refused.close });
    const norm = normalizePath(req.url!);
    if (!norm.ok) return reject('invalid_path', { message: norm.reason });
    if (norm.segments[0]?.toLowerCase() === ADMIN_PREFIX) return reject('not_found', { message: 'The admin API is served on the admin port only.' });

    const method = req.method!;
    // Counted from here, not from forwarding: a write that has been routed must be waited for.
    const write = isSafeMethod(method) ? undefined : deps.writes.enter(table.version);
    if (write) res.once('close', write.release);
    const cookies = parseCookieHeader(req.headers.cookie);
    const user = userKeyOf(cookies, config.sessionCookie);
    const setUid = user.newUid ? uidCookie(user.newUid, clientProto(req, config.trustedProxyHops) === 'https') : undefined;
    let decision: RouteDecision = table.decide({ method, segments: norm.segments, headers: req.headers, cookies, userKey: user.key });
    const preview = previewTarget(req, table.upstreams, config.adminToken);
    const previewing = preview !== undefined && preview !== 'ignored';
    if (preview === 'ignored') metrics.previewIgnored.inc();
    else if (preview) decision = { ...decision, target: preview, reason: `preview routing to ${preview}` };
    routeName = decision.route?.name ?? 'default';
    mode = decision.mode;
    // A writer switch is moving this route's data: a write now could land on the side giving it up.
    if (decision.route?.frozen && !isSafeMethod(method)) return reject('writes_frozen', { headers: { 'retry-after': '1' } });

    void (async () => {
      let body: Buffer;
      try {
        body = await readBody(req, {
          maxBytes: config.limits.maxBodyBytes,
          deadline: Date.now() + config.limits.requestTimeoutMs,
          budget: deps.bodyBudget,
          // Held until the request ends: a fallback may still need to resend the body.
          hold: (bytes) => res.once('close', () => deps.bodyBudget.give(bytes)),
        });
      } catch (err) {
        const reason = err instanceof BodyError ? err.reason : 'aborted';
        if (reason === 'too_large') return reject('payload_too_large', { message: `the body must be at most ${config.limits.maxBodyBytes} bytes`, close: true });
        if (reason === 'over_budget') return reject('proxy_overloaded', { close: true, headers: { 'retry-after': '1' } });
        if (reason === 'timeout') return reject('request_timeout', { close: true });
        // The client left, or the parser refused the body (the clientError handler has answered then).
        metrics.rejected.inc({ reason: 'client_aborted' });
        if (!res.headersSent) req.destroy();
        return;
      }

      const key = req.headers['idempotency-key'] as string | undefined;
      /** A keyed write: the side its key's attempts may have reached is remembered, and pins its retries. */
      let keyedWrite: KeyedRequest | undefined;
      if (key) {
        const begun = deps.idempotency.begin(user.key, key, method, norm.path + norm.query, body);
        if ('error' in begun) return reject(begun.error);
        res.once('close', begun.release);
        if (write) keyedWrite = begun;
        // A retry goes to the side an earlier attempt with this key may have reached, whatever the
        // table says now: only that side's idempotency record knows whether it was applied.
        if (begun.side && write) {
          if (!table.upstreams.has(begun.side)) return reject('upstream_unreachable', { message: `The upstream "${begun.side}" that saw this Idempotency-Key's first attempt is no longer configured; the write cannot be retried safely elsewhere.` });
          decision = { ...decision, target: begun.side, reason: `Idempotency-Key first sent to ${begun.side}` };
        }
      }

      const headers = upstreamHeaders(req, { requestId, bodyLength: body.length, trustedProxyHops: config.trustedProxyHops, keepDryRun: deps.keepDryRun });
      const attempt = (upstream: string): Promise<AttemptResult> => attemptVia(deps, req, res, upstream, { headers, body, path: norm.path + norm.query, write });
      // Shadow mode: a sample of the route's reads (and writes, when it opts in) is mirrored once
      // the monolith's answer has gone to the client; the client never waits for the copy.
      // (Not a preview: it goes where the tester asked, and compares with nothing.)
      const shadow = decision.mode === 'shadow' && !previewing ? decision.route?.shadow : undefined;
      const slot = shadow && deps.shadow && decision.mirrorTo && (isSafeMethod(method) || shadow.writes) && Math.random() < shadow.sampleRate ? deps.shadow.admit(routeName, body.length) : undefined;
      // Released if the answer never completes (the client left, the monolith failed).
      if (slot) res.once('close', slot.cancel);
      const forwarded = performance.now();
      const outcome = await forward(deps, attempt, {
        method,
        primary: decision.target,
        fallbackTo: table.defaultUpstream,
        // Preview requests go where the tester asked; a keyed retry goes where its key was seen.
        pinned: previewing || keyedWrite?.side !== undefined,
        route: routeName,
        reached: keyedWrite?.reached,
      });
      target = outcome.upstream;

      if (outcome.kind === 'error') {
        metrics.rejected.inc({ reason: outcome.code });
        const unknownOutcome = keyedWrite && (outcome.code === 'upstream_timeout' || outcome.code === 'upstream_reset');
        sendError(res, outcome.code, {
          // A new user's cookie goes with errors too: the retry of a keyed write must be theirs.
          headers: setUid ? { ...outcome.headers, 'set-cookie': setUid } : outcome.headers,
          requestId,
          idempotencyKey: keyedWrite ? key : undefined,
          ...(unknownOutcome ? { message: `${PROXY_ERRORS[outcome.code].message} Retry with the same Idempotency-Key: the retry goes to the service that saw this attempt, which applies it at most once.` } : {}),
        });
      } else {
        const response = outcome.result.response;
        const tee = slot
          ? (primary: Buffer | undefined): void => {
              if (!primary) {
                slot.cancel();
                return void deps.shadow!.drop(routeName, 'body_too_large');
              }
              slot.run({
                route: routeName,
                shadow: shadow!,
                method,
                path: norm.path + norm.query,
                headers: { ...headers, [DRY_RUN_HEADER]: deps.dryRunMarks.issue() },
                body,
                primary: { status: response.statusCode ?? 502, headers: response.headers, body: primary, ms: performance.now() - forwarded },
                monolithUrl: table.upstreams.get(table.defaultUpstream)!.url,
                targetUrl: table.upstreams.get(decision.mirrorTo!)!.url,
                pattern: decision.route!.path,
              });
            }
          : undefined;
        deliver(res, response, { requestId, setUid, tee, teeLimit: deps.shadow?.limits.maxBodyBytes ?? 0 });
        if (outcome.release) res.once('close', outcome.release);
      }
      if (log.isLevelEnabled('info')) {
        res.once('finish', () =>
          log.info({ requestId, method, path: norm.path, status: res.statusCode, route: routeName, mode, target, fallback: outcome.fallback, ms: Math.round(performance.now() - started) }, 'request'),
        );
      }
    })().catch((err: unknown) => {
      log.error({ err, requestId }, 'request handling failed');
      sendError(res, 'internal_error', { requestId });
    });
  };
}

/** The preview target, `'ignored'` for a preview header without a valid token, or undefined. */
function previewTarget(req: IncomingMessage, upstreams: ReadonlyMap<string, unknown>, adminToken: string | undefined): string | 'ignored' | undefined {
  const wanted = req.headers[PREVIEW_HEADER];
  if (wanted === undefined) return undefined;
  const token = req.headers[TOKEN_HEADER];
  if (typeof wanted !== 'string' || !upstreams.has(wanted) || typeof token !== 'string' || !isAdminToken(token, adminToken)) return 'ignored';
  return wanted;
}

/** Whether an attempt's request may have reached its upstream: it answered, or bytes left the proxy. */
const mayHaveReached = (r: AttemptResult): boolean => r.kind === 'response' || r.failure.sent;

/** Tries the primary; on failure, the fallback when that is safe; else the mapped error. */
async function forward(
  deps: HandlerDeps,
  attempt: (upstream: string) => Promise<AttemptResult>,
  r: { method: string; primary: string; fallbackTo: string; pinned: boolean; route: string; reached: ((upstream: string) => void) | undefined },
): Promise<Outcome> {
  // Pinned requests and requests already at the fallback have nowhere else to go.
  const canFallBack = (f: UpstreamFailure): boolean => r.primary !== r.fallbackTo && !r.pinned && mayFallBack(r.method, f);
  const first = await attempt(r.primary);
  if (mayHaveReached(first)) r.reached?.(r.primary);
  if (first.kind === 'response') {
    if ((first.response.statusCode ?? 502) < 500 || !canFallBack({ cause: 'status_5xx', sent: true })) {
      return { kind: 'response', result: first, upstream: r.primary, fallback: false };
    }
    first.response.resume();
  } else {
    deps.metrics.upstreamErrors.inc({ upstream: r.primary, cause: first.failure.cause });
    if (!canFallBack(first.failure)) return { kind: 'error', ...failureResponse(first.failure), upstream: r.primary, fallback: false };
  }
  const release = deps.fallbackLimit.tryAcquire();
  if (!release) {
    deps.metrics.fallbacks.inc({ route: r.route, from: r.primary, outcome: 'overloaded' });
    return { kind: 'error', code: 'fallback_overloaded', headers: { 'retry-after': '1' }, upstream: r.primary, fallback: true };
  }
  const second = await attempt(r.fallbackTo);
  if (mayHaveReached(second)) r.reached?.(r.fallbackTo);
  if (second.kind === 'response') {
    deps.metrics.fallbacks.inc({ route: r.route, from: r.primary, outcome: 'ok' });
    return { kind: 'response', result: second, upstream: r.fallbackTo, fallback: true, release };
  }
  release();
  deps.metrics.fallbacks.inc({ route: r.route, from: r.primary, outcome: 'failed' });
  deps.metrics.upstreamErrors.inc({ upstream: r.fallbackTo, cause: second.failure.cause });
  return { kind: 'error', ...failureResponse(second.failure), upstream: r.fallbackTo, fallback: true };
}

/**
 * One attempt through the upstream's breaker; 5xx answers and failures count against it. A write's
 * attempt is tracked until the upstream is done with it — its answer read, or, when the proxy gave
 * up after sending (timeout, reset, the client left), the upstream's timeout later, since the
 * upstream may still commit it — so that a writer switch waits for the work, not the response.
 */
async function attemptVia(
  deps: HandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  r: { headers: ReturnType<typeof upstreamHeaders>; body: Buffer; path: string; write: TrackedWrite | undefined },
): Promise<AttemptResult> {
  const upstream = deps.upstreams.get(name);
  const done = r.write?.hold();
  const result = await attemptThroughBreaker(req, res, upstream, r);
  if (done) {
    if (result.kind === 'response') result.response.once('close', done);
    else {
      if (result.failure.sent) r.write!.holdFor(upstream.spec.timeoutMs);
      done();
    }
  }
  return result;
}

/** One attempt, if the upstream's breaker admits it; its outcome is reported on the permit, never thrown. */
async function attemptThroughBreaker(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: ReturnType<UpstreamRegistry['get']>,
  r: { headers: ReturnType<typeof upstreamHeaders>; body: Buffer; path: string },
): Promise<AttemptResult> {
  const permit = upstream.breaker.admit();
  if (!permit.admitted) return { kind: 'failure', failure: { cause: 'breaker_open', sent: false, retryAfterMs: permit.retryAfterMs } };
  const result = await attemptUpstream(req, res, {
    target: upstream.url,
    agent: upstream.agent,
    headers: r.headers,
    path: r.path,
    body: r.body,
    connectTimeoutMs: upstream.spec.connectTimeoutMs,
    timeoutMs: upstream.spec.timeoutMs,
  });
  if (result.kind === 'response') permit.done((result.response.statusCode ?? 502) >= 500 ? 'failure' : 'success');
  // A client that went away is not the upstream's fault. (req.destroyed is no test: a request
  // whose body has been read is destroyed by then.)
  else permit.done(res.destroyed || req.socket.destroyed ? 'not_counted' : 'failure');
  return result;
}

/**
 * Streams the upstream's answer to the client, minus hop-by-hop headers. With `tee`, a copy of the
 * body (up to `teeLimit` bytes; undefined past it) is handed over once it has all been sent.
 */
function deliver(
  res: ServerResponse,
  response: IncomingMessage,
  opts: { requestId: string; setUid: string | undefined; tee?: ((body: Buffer | undefined) => void) | undefined; teeLimit: number },
): void {
  // One flat [name, value, …] list straight to writeHead: duplicates (set-cookie) stay separate,
  // and no per-header setHeader bookkeeping on the hot path.
  const headers = responseHeaders(response.rawHeaders);
  if (opts.setUid) headers.push('set-cookie', opts.setUid);
  headers.push('x-request-id', opts.requestId);
  res.writeHead(response.statusCode ?? 502, response.statusMessage ?? '', headers);
  response.on('error', () => res.destroy());
  res.on('close', () => {
    if (!response.complete) response.destroy();
  });
  if (opts.tee) {
    const tee = opts.tee;
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= opts.teeLimit) chunks.push(c);
    });
    res.once('finish', () => tee(size <= opts.teeLimit ? Buffer.concat(chunks) : undefined));
  }
  response.pipe(res);
}
