import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { RequestEnd } from './request-end.ts';
import { classifyUpstreamError, isSafeMethod, type UpstreamFailure } from '../resilience/upstream-failure.ts';

export type AttemptResult = { kind: 'response'; response: UpstreamResponse } | { kind: 'failure'; failure: UpstreamFailure; error?: Error };

export interface AttemptOptions {
  /** The upstream's connection pool (its connect timeout is the pool's). */
  pool: Dispatcher;
  method: string;
  headers: OutgoingHttpHeaders;
  /** The path and query to request (already normalised). */
  path: string;
  body: Buffer;
  /** Milliseconds from the start of the attempt to the response headers. */
  timeoutMs: number;
}

/** An upstream's answer once its head has arrived: the head, and its body to deliver or discard, once. */
export interface UpstreamResponse {
  readonly status: number;
  readonly statusMessage: string;
  /** The head as undici parses it: lowercase names, a repeated field as the list of its values. */
  readonly headers: IncomingHttpHeaders;
  /** Whether the body has been received to its end. */
  readonly complete: boolean;
  /** Streams the body to `res` (each chunk shown to `onChunk` first) and ends it; an answer cut short upstream destroys `res`. */
  deliverTo(res: ServerResponse, onChunk?: (chunk: Buffer) => void): void;
  /** Reads the body to its end and drops it, so its connection can serve the next request. */
  discard(): void;
  /** Stops receiving the body (the client left): its connection is closed, never reused. */
  abort(): void;
  /** Called once the upstream is done with the request: the body received whole, cut short, or aborted. */
  onDone(callback: () => void): void;
}

const NO_HEADERS: IncomingHttpHeaders = Object.freeze({});
const CLIENT_GONE = Object.assign(new Error('the client closed the connection'), { code: 'ECONNRESET' });
const codeOf = (err: unknown): string | undefined => (err as { code?: string } | undefined)?.code;
const TIMED_OUT = new Error('no response headers within the attempt timeout');
const ABORTED = new Error('the proxy stopped reading this answer');
/** Bytes of body held for an answer not yet being delivered (the attempt's caller is a few microtasks away) before its connection is paused. */
const HOLD_BYTES = 64 * 1024;

/**
 * One try at one upstream: the buffered request sent through the upstream's undici pool by
 * `dispatch`, whose callbacks are this object's methods — no stream, emitter or promise per
 * request on undici's side, and no ClientRequest, agent bookkeeping or IncomingMessage on ours
 * (node:http's client was the largest cost of a proxied request after the two socket writes).
 *
 * It resolves as soon as the response head arrives (the caller decides whether to deliver the
 * body to the client or fall back) or when the attempt fails, saying whether any byte may have
 * reached the upstream. A timed-out attempt is aborted before it resolves, so nothing is left
 * running when the caller tries elsewhere; a client that leaves while it waits aborts it too. A
 * request still queued for a connection when that happens is dropped as soon as it would start.
 */
export function attemptUpstream(opts: AttemptOptions, end: RequestEnd): Promise<AttemptResult> {
  return new Promise((resolve) => new Attempt(opts, end, resolve).start());
}

class Attempt implements Dispatcher.DispatchHandler, UpstreamResponse {
  readonly #opts: AttemptOptions;
  readonly #method: string;
  readonly #resolve: (r: AttemptResult) => void;
  #controller: Dispatcher.DispatchController | undefined;
  /** The request has started on a connection: some of it may have reached the upstream. */
  #started = false;
  #resent = false;
  #settled = false;
  #timer: NodeJS.Timeout | undefined;

  status = 0;
  statusMessage = '';
  headers: IncomingHttpHeaders = NO_HEADERS;
  complete = false;
  #cut: Error | undefined;
  #finished = false;
  #sink: ServerResponse | 'discard' | undefined;
  #onChunk: ((chunk: Buffer) => void) | undefined;
  #held: Buffer[] = [];
  #heldBytes = 0;
  #onDone: (() => void) | undefined;

  constructor(opts: AttemptOptions, end: RequestEnd, resolve: (r: AttemptResult) => void) {
    this.#opts = opts;
    this.#method = opts.method;
    this.#resolve = resolve;
    // Run when the request ends however it ends; a no-op once the answer has been received whole.
    end.add(this.#requestEnded);
  }

  start(): void {
    this.#timer = setTimeout(this.#onTimeout, this.#opts.timeoutMs);
    this.#send();
  }

  #send(): void {
    const { pool, path, body, headers } = this.#opts;
    try {
      pool.dispatch(
        {
          path,
          method: this.#method as Dispatcher.HttpMethod,
          headers: headers as Dispatcher.DispatchOptions['headers'],
          body: body.length ? body : null,
        },
        this,
      );
    } catch (err) {
      // Refused before it was queued (a header or method undici will not send): nothing left the proxy.
      this.#fail(classifyUpstreamError(codeOf(err), false), err as Error);
    }
  }

  #settle(result: AttemptResult): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#resolve(result);
  }

  #fail(failure: UpstreamFailure, error?: Error): void {
    if (this.#settled) return;
    this.#settle(error ? { kind: 'failure', failure, error } : { kind: 'failure', failure });
    // After settling: undici reports the abort back through onResponseError, which must not decide the outcome.
    this.#controller?.abort(error ?? ABORTED);
  }

  readonly #onTimeout = (): void => this.#fail({ cause: 'timeout', sent: this.#started }, TIMED_OUT);

  /** The client's request is over (it left, or its answer went): an attempt still waiting is given up, an answer still arriving stopped. */
  readonly #requestEnded = (): void => {
    if (!this.#settled) return this.#fail(classifyUpstreamError('ECONNRESET', this.#started), CLIENT_GONE);
    if (this.#sink !== 'discard') this.abort();
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // Given up on while it waited for a connection (timed out, the client left): never sent.
    if (this.#settled) return controller.abort(ABORTED);
    this.#started = true;
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (this.#settled) return controller.abort(ABORTED);
    this.status = statusCode;
    this.statusMessage = statusMessage ?? '';
    // undici has parsed the head already (known names as constant strings); decoding the raw
    // lines again and lowercasing every name was 2 % of the proxy's CPU.
    this.headers = headers;
    this.#settle({ kind: 'response', response: this });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const sink = this.#sink;
    if (sink === 'discard') return;
    if (sink) {
      this.#onChunk?.(chunk);
      if (!sink.write(chunk)) {
        controller.pause();
        sink.once('drain', this.#resume);
      }
      return;
    }
    this.#held.push(chunk);
    this.#heldBytes += chunk.length;
    if (this.#heldBytes > HOLD_BYTES) controller.pause();
  }

  onResponseEnd(): void {
    this.complete = true;
    if (this.#sink && this.#sink !== 'discard') this.#sink.end();
    this.#finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (!this.#settled) {
      // A kept-alive connection the upstream closed as it idled out, in the moment this request
      // was written on it: the upstream never read the request. Clients may then resend an
      // idempotent one (RFC 9110 §9.2.2), and browsers do. A read is resent once, on a fresh
      // connection (the attempt's timeout still bounds it all); a write never is (it may have
      // reached the upstream: one write, one side).
      if (this.#started && !this.#resent && isSafeMethod(this.#method) && closedOnReuse(err)) {
        this.#resent = true;
        this.#started = false;
        this.#controller = undefined;
        return this.#send();
      }
      return this.#fail(classifyUpstreamError(codeOf(err), this.#started), err);
    }
    // Cut short after the head: the client's answer is cut short too, never passed off as complete.
    this.#cut = err;
    if (this.#sink && this.#sink !== 'discard') this.#sink.destroy();
    this.#finish();
  }

  readonly #resume = (): void => this.#controller?.resume();

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#onDone?.();
  }

  deliverTo(res: ServerResponse, onChunk?: (chunk: Buffer) => void): void {
    this.#sink = res;
    this.#onChunk = onChunk;
    const held = this.#held;
    this.#held = [];
    if (this.#cut) return void res.destroy();
    // The usual case, a small answer already whole: head and body leave in one write.
    if (this.complete && held.length === 1) {
      onChunk?.(held[0]!);
      return void res.end(held[0]);
    }
    for (const chunk of held) {
      onChunk?.(chunk);
      res.write(chunk);
    }
    if (this.complete) return void res.end();
    this.#resume();
  }

  discard(): void {
    this.#sink = 'discard';
    this.#held = [];
    this.#resume();
  }

  abort(): void {
    if (this.#finished) return;
    this.#controller?.abort(ABORTED);
  }

  onDone(callback: () => void): void {
    const before = this.#onDone;
    this.#onDone = before ? () => (before(), callback()) : callback;
    if (this.#finished) callback();
  }
}

/**
 * Whether the connection closed under the request before any answer: undici's "other side closed"
 * says how many bytes the connection had read, so one that had answered before is told from a
 * fresh one the upstream refused to serve; a reset (RST) says nothing, and is taken as the race.
 */
function closedOnReuse(err: Error): boolean {
  const e = err as Error & { code?: string; socket?: { bytesRead?: number } };
  if (e.code === 'UND_ERR_SOCKET') return (e.socket?.bytesRead ?? 0) > 0;
  return e.code === 'ECONNRESET' || e.code === 'EPIPE';
}
