import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import zlib from 'node:zlib';

/** How a JSON upstream answers, changeable between requests. */
export interface JsonBehaviour {
  /** Alter the answer (a bug in a service). */
  transform?: (body: Record<string, unknown>, path: string) => Record<string, unknown>;
  delayMs?: number;
  /** Close the connection instead of answering. */
  reset?: boolean;
  gzip?: boolean;
  /** Extra items so the answer is about this many bytes. */
  padToBytes?: number;
}

/**
 * A real HTTP server standing in for the monolith or a service: `/api/things/:id` answers the same
 * document on every side, plus two volatile fields (a timestamp and a request id) that differ on
 * every answer, as real apps' do. It records what it was sent.
 */
export class JsonUpstream {
  readonly seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  behaviour: JsonBehaviour = {};
  url = '';
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();
  readonly name: string;

  constructor(name: string) {
    this.name = name;
    this.#server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
        const b = this.behaviour;
        if (b.reset) return void req.socket.destroy();
        const id = Number(/\/(\d+)/.exec(req.url!)?.[1] ?? 0);
        let doc: Record<string, unknown> = {
          id,
          title: `Thing ${id}`,
          price: { cents: 100 + id, currency: 'USD' },
          tags: ['a', 'b'],
          servedAt: new Date().toISOString(),
          requestId: randomUUID(),
        };
        if (b.padToBytes)
          doc.items = Array.from({ length: Math.ceil(b.padToBytes / 60) }, (_, i) => ({
            n: i,
            text: 'fermented six days, notes of fruit',
          }));
        if (b.transform) doc = b.transform(doc, req.url!);
        let body: Buffer = Buffer.from(JSON.stringify(doc));
        const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'x-served-by': this.name };
        if (b.gzip) {
          body = zlib.gzipSync(body);
          headers['content-encoding'] = 'gzip';
        }
        headers['content-length'] = String(body.length);
        const send = (): void => {
          if (!res.destroyed) {
            res.writeHead(200, headers);
            res.end(body);
          }
        };
        if (b.delayMs) setTimeout(send, b.delayMs).unref();
        else send();
      });
    });
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  /** Connections open to this server right now. */
  get connections(): number {
    return this.#sockets.size;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
  }
}
