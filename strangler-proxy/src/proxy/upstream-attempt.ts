import http, { type Agent, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { classifySocketError, isSafeMethod, type UpstreamFailure } from '../resilience/upstream-failure.ts';

const ignore = (): void => {};

export type AttemptResult = { kind: 'response'; response: IncomingMessage } | { kind: 'failure'; failure: UpstreamFailure; error?: Error };

export interface AttemptOptions {
  target: URL;
  agent: Agent;
  headers: OutgoingHttpHeaders;
  /** The path and query to request (already normalised). */
  path: string;
  body: Buffer;
  /** Milliseconds to get the TCP connection. */
  connectTimeoutMs: number;
  /** Milliseconds from the start of the attempt to the response headers. */
  timeoutMs: number;
}

/**
 * One try at one upstream: a plain `http.request` on the upstream's keep-alive agent, the buffered
 * body written with the head in one go. It resolves as soon as the response headers arrive (the
 * caller decides whether to stream them to the client or fall back) or when the attempt fails,
 * saying whether any byte may have reached the upstream. A timed-out attempt is aborted before it
 * resolves, so nothing is left running when the caller tries elsewhere; a client that leaves while
 * it waits aborts it too. Every listener is this attempt's own, so a late event of a failed attempt
 * can never be taken for a fallback attempt's.
 *
 * (httpxy did this before, one instance per attempt: an emitter, a body stream and a copy of the
 * headers per request, for features this path never used — the profile's largest cost after logging.)
 */
export function attemptUpstream(req: IncomingMessage, res: ServerResponse, opts: AttemptOptions): Promise<AttemptResult> {
  return new Promise((resolve) => new Attempt(req, res, opts, resolve).start());
}

/** One attempt's state and handlers: methods bound once, not a closure per event per request. */
class Attempt {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #opts: AttemptOptions;
  readonly #resolve: (r: AttemptResult) => void;
  #upstreamReq: ClientRequest | undefined;
  #connected = false;
  #settled = false;
  #timer: NodeJS.Timeout | undefined;
  #connectTimer: NodeJS.Timeout | undefined;

  constructor(req: IncomingMessage, res: ServerResponse, opts: AttemptOptions, resolve: (r: AttemptResult) => void) {
    this.#req = req;
    this.#res = res;
    this.#opts = opts;
    this.#resolve = resolve;
  }

  start(): void {
    this.#timer = setTimeout(this.#onTimeout, this.#opts.timeoutMs);
    // The client leaving (before the answer is complete) aborts the upstream request; the client's
    // own request failing the same way is reported as a reset.
    this.#res.once('close', this.#onClientClose);
    this.#req.on('error', this.#onClientError);
    this.#send();
  }

  #send(): void {
    const { target, agent, path, body } = this.#opts;
    let upstreamReq: ClientRequest;
    try {
      upstreamReq = (target.protocol === 'https:' ? https : http).request({
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method: this.#req.method,
        path,
        headers: flatHeaders(this.#opts.headers, target),
        agent,
      });
    } catch (err) {
      return this.#fail(classifySocketError((err as { code?: string }).code, false), err as Error);
    }
    this.#upstreamReq = upstreamReq;
    upstreamReq.once('socket', this.#onSocket);
    upstreamReq.once('response', this.#onResponse);
    upstreamReq.on('error', this.#onError);
    upstreamReq.end(body.length ? body : undefined);
  }

  #settle(result: AttemptResult): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#connectTimer);
    this.#res.off('close', this.#onClientClose);
    this.#req.off('error', this.#onClientError);
    if (result.kind === 'failure') this.#upstreamReq?.destroy();
    this.#resolve(result);
  }

  #fail(failure: UpstreamFailure, error?: Error): void {
    this.#settle(error ? { kind: 'failure', failure, error } : { kind: 'failure', failure });
  }

  readonly #onTimeout = (): void => this.#fail({ cause: 'timeout', sent: this.#connected });

  readonly #onSocket = (socket: Socket): void => {
    if (!socket.connecting) {
      this.#connected = true;
      return;
    }
    this.#connectTimer = setTimeout(this.#onConnectTimeout, this.#opts.connectTimeoutMs);
    socket.once('connect', this.#onConnect);
  };

  readonly #onConnect = (): void => {
    this.#connected = true;
    clearTimeout(this.#connectTimer);
  };

  readonly #onConnectTimeout = (): void => this.#fail({ cause: 'connect_timeout', sent: false });

  readonly #onResponse = (response: IncomingMessage): void => {
    // A late answer to an attempt already given up on: read and dropped, so its socket is freed.
    if (this.#settled) return void response.resume();
    this.#settle({ kind: 'response', response });
  };

  // Errors after a response (a reset mid-body) belong to the delivery, which watches the response.
  readonly #onError = (err: Error): void => {
    const code = (err as { code?: string }).code;
    if (this.#mayResendOnFreshConnection(code)) return this.#resend();
    this.#fail(classifySocketError(code, this.#connected), err);
  };

  /**
   * A kept-alive connection the upstream closed as it idled out, in the moment this request was
   * written on it: the upstream never read the request. Clients may then resend an idempotent one
   * (RFC 9110 §9.2.2), and browsers and undici do; Node's agent does not, so a busy moment turned
   * the race into a 502. A read is resent, on the next connection the agent gives (each dead one is
   * dropped from the pool, and the attempt's timeout still bounds it all); a write never is (it may
   * have reached the upstream: one write, one side).
   */
  #mayResendOnFreshConnection(code: string | undefined): boolean {
    return code === 'ECONNRESET' && this.#upstreamReq?.reusedSocket === true && isSafeMethod(this.#req.method ?? '');
  }

  #resend(): void {
    const stale = this.#upstreamReq!;
    stale.off('response', this.#onResponse);
    stale.off('error', this.#onError);
    stale.on('error', ignore);
    clearTimeout(this.#connectTimer);
    this.#connected = false;
    this.#send();
  }

  readonly #onClientClose = (): void => {
    if (!this.#res.writableFinished) this.#upstreamReq?.destroy();
  };

  readonly #onClientError = (err: Error): void => {
    const code = (err as { code?: string }).code;
    if (code === 'ECONNRESET' && !this.#req.socket?.writable) return this.#fail({ cause: 'reset', sent: this.#connected }, err);
    this.#fail(classifySocketError(code, this.#connected), err);
  };
}

/**
 * The headers as one flat [name, value, …] list: Node then writes the head from it in one pass,
 * instead of a validated setHeader() into a map per header and a second pass to write them. With
 * a list Node adds no Host of its own, so a request that came without one (HTTP/1.0) is given the
 * upstream's, as Node would have.
 */
function flatHeaders(headers: OutgoingHttpHeaders, target: URL): string[] {
  const out: string[] = [];
  let host = false;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (name === 'host') host = true;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, String(value));
  }
  if (!host) out.push('host', target.host);
  return out;
}
