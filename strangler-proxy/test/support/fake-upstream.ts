import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a fake upstream saw of one request. */
export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  at: number;
  /** Set when the proxy closed the request before this upstream answered. */
  abortedAt?: number;
}

export type Behaviour =
  | { kind: 'ok'; status?: number; body?: unknown; delayMs?: number; headers?: Record<string, string> }
  | { kind: 'reset' }
  | { kind: 'status'; status: number }
  | { kind: 'hang' };

/**
 * A real HTTP server on 127.0.0.1:0 standing in for an upstream: it records every request and
 * behaves as told. Writes are recorded in `writes` only when the request completes normally: a
 * request the proxy aborted is rolled back, as a transactional service would.
 */
export class FakeUpstream {
  readonly name: string;
  readonly seen: Seen[] = [];
  /** Committed writes, keyed by Idempotency-Key when the request had one (de-duplicated like a real service). */
  readonly writes: Map<string, Seen>;
  behaviour: Behaviour = { kind: 'ok' };
  /** Commit a write even when the proxy has closed the request before the answer (a service that does not notice the client leaving). */
  commitAbandoned = false;
  #server: http.Server;
  url = '';
  #n = 0;

  constructor(name: string, sharedWrites?: Map<string, Seen>) {
    this.name = name;
    this.writes = sharedWrites ?? new Map();
    this.#server = http.createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 30_000;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  count(method?: string): number {
    return this.seen.filter((s) => !method || s.method === method).length;
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: Seen = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString(),
        at: performance.now(),
      };
      this.seen.push(seen);
      res.on('close', () => {
        if (!res.writableFinished) seen.abortedAt = performance.now();
      });
      const b = this.behaviour;
      const commit = (): void => {
        if (['GET', 'HEAD', 'OPTIONS'].includes(seen.method)) return;
        const key = req.headers['idempotency-key'];
        this.writes.set(typeof key === 'string' ? key : `${this.name}-${++this.#n}`, seen);
      };
      const answer = (status: number, body: unknown, extra: Record<string, string> = {}): void => {
        if (res.destroyed) {
          if (this.commitAbandoned && status < 400) commit();
          return;
        }
        if (status < 400) commit();
        const text = JSON.stringify(body);
        res.writeHead(status, {
          'content-type': 'application/json',
          'x-served-by': this.name,
          'content-length': Buffer.byteLength(text),
          ...extra,
        });
        res.end(text);
      };
      switch (b.kind) {
        case 'ok': {
          const body = b.body ?? { servedBy: this.name, method: seen.method, url: seen.url };
          if (b.delayMs) setTimeout(() => answer(b.status ?? 200, body, b.headers), b.delayMs);
          else answer(b.status ?? 200, body, b.headers);
          return;
        }
        case 'status':
          return answer(b.status, { error: { code: 'boom', message: `${this.name} failed` } });
        case 'reset':
          // Worst case for a write: applied, then the connection dies before the answer.
          commit();
          return void req.socket.destroy();
        case 'hang':
          return;
      }
    });
  }
}
