import type { Agent, ClientRequest, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { ProxyServer } from 'httpxy';
import { classifySocketError, type UpstreamFailure } from '../resilience/upstream-failure.ts';

/** A stream that ends at once: httpxy then ends the upstream request without waiting on the client's. */
const EMPTY_BODY = (): Readable => {
  const r = new Readable({ read() {} });
  r.push(null);
  return r;
};

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
 * One try at one upstream, forwarded by httpxy. It resolves as soon as the response headers arrive
 * (the caller decides whether to stream them to the client or fall back) or when the attempt
 * fails, saying whether any byte may have reached the upstream. A timed-out attempt is aborted
 * before it resolves, so nothing is left running when the caller tries elsewhere.
 */
export function attemptUpstream(req: IncomingMessage, res: ServerResponse, opts: AttemptOptions): Promise<AttemptResult> {
  return new Promise((resolve) => {
    // One httpxy instance per attempt: its events then belong to this attempt alone, never to a
    // fallback attempt made afterwards for the same client request.
    const proxy = new ProxyServer({ selfHandleResponse: true, xfwd: false, prependPath: false, ws: false });
    let connected = false;
    let settled = false;
    let upstreamReq: ClientRequest | undefined;
    const settle = (result: AttemptResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(connectTimer);
      if (result.kind === 'failure') upstreamReq?.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => settle({ kind: 'failure', failure: { cause: 'timeout', sent: connected } }), opts.timeoutMs);
    let connectTimer: NodeJS.Timeout | undefined;

    proxy.on('proxyReq', (proxyReq) => {
      upstreamReq = proxyReq;
      const socket = proxyReq.socket;
      if (socket && !socket.connecting) {
        connected = true;
      } else if (socket) {
        connectTimer = setTimeout(
          () => settle({ kind: 'failure', failure: { cause: 'connect_timeout', sent: false } }),
          opts.connectTimeoutMs,
        );
        socket.once('connect', () => {
          connected = true;
          clearTimeout(connectTimer);
        });
      }
    });
    proxy.on('proxyRes', (response) => {
      if (settled) {
        response.resume();
        return;
      }
      settle({ kind: 'response', response });
    });
    proxy.on('error', (err: Error) =>
      settle({ kind: 'failure', failure: classifySocketError((err as { code?: string }).code, connected), error: err }),
    );
    proxy.on('econnreset', (err: Error) => settle({ kind: 'failure', failure: { cause: 'reset', sent: connected }, error: err }));

    // httpxy builds the outgoing request from req.url and req.headers synchronously inside web():
    // hand it the cleaned ones, then restore. (Rewriting them in its proxyReq event instead would
    // not do: that event is skipped for requests carrying Expect.)
    const { url: originalUrl, headers: originalHeaders } = req;
    req.url = opts.path;
    req.headers = opts.headers as IncomingMessage['headers'];
    proxy
      .web(req, res, { target: opts.target, agent: opts.agent, buffer: opts.body.length ? Readable.from([opts.body]) : EMPTY_BODY() })
      .catch((err: Error) =>
        settle({ kind: 'failure', failure: classifySocketError((err as { code?: string }).code, connected), error: err }),
      );
    req.url = originalUrl;
    req.headers = originalHeaders;
  });
}
