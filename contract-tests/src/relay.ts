import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a relay does to each exchange: hold the answer back, or rewrite a JSON answer. */
export interface RelayBehaviour {
  /** Milliseconds to hold the answer after the upstream has given it (the upstream has done the work by then). */
  delayMs?: (req: http.IncomingMessage) => number;
  /** A new JSON body for a JSON answer. */
  rewriteJson?: (body: unknown) => unknown;
}

/**
 * A real HTTP relay on 127.0.0.1:0 in front of the app at `to`: a slow network or a buggy build of
 * that app, for tests that need a failure the app itself cannot be asked for. Its behaviour can be
 * changed while it runs.
 */
export async function startRelay(
  to: string,
  behaviour: RelayBehaviour = {},
): Promise<{ url: string; behaviour: RelayBehaviour; close(): Promise<void> }> {
  const target = new URL(to);
  const server = http.createServer((req, res) => {
    const headers = { ...req.headers, host: target.host };
    delete headers['accept-encoding'];
    const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const b = relay.behaviour;
        let body = Buffer.concat(chunks);
        if (b.rewriteJson && String(answer.headers['content-type']).includes('json') && body.length)
          body = Buffer.from(JSON.stringify(b.rewriteJson(JSON.parse(body.toString('utf8')))));
        const { 'content-length': _length, 'transfer-encoding': _chunked, ...rest } = answer.headers;
        const send = (): void => {
          if (res.destroyed) return;
          res.writeHead(answer.statusCode ?? 502, { ...rest, 'content-length': body.length });
          res.end(body);
        };
        const delay = b.delayMs?.(req) ?? 0;
        if (delay > 0) setTimeout(send, delay);
        else send();
      });
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // The handler reads `relay.behaviour` per exchange, so a test may swap it while the relay runs.
  const relay = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    behaviour,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return relay;
}
