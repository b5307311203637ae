import type { Server } from 'node:http';
import type { Express } from 'express';
import { closeGracefully } from './graceful-close.ts';

export interface Serving {
  /** http://host:port with the port actually bound. */
  url: string;
  server: Server;
  /** Stops accepting and drains requests in flight (up to `graceMs`). */
  close(): Promise<void>;
}

/** Listens with slow-client limits set, and resolves once bound. */
export async function serve(app: Express, opts: { port: number; host: string; graceMs: number }): Promise<Serving> {
  const server = app.listen(opts.port, opts.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // Node's defaults, stated: a slow client cannot hold a socket open forever.
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  // The proxy's pool reuses idle connections without a timeout of its own, so the app is the one
  // that closes them, and a request sent on one the moment the app closes it fails (a 502). At
  // Node's 5 s that happened under load (bench:load, 1 000 users: a pooled connection idle 5 s is
  // common); at 65 s it needs a connection idle that long. 65 s is also above a load balancer's
  // 60 s idle timeout, as AWS asks of its targets.
  server.keepAliveTimeout = 65_000;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    url: `http://${opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host}:${port}`,
    server,
    close: () => closeGracefully(server, opts.graceMs),
  };
}
