import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { SyncMetrics } from './sync-metrics.ts';
import { prepareSync, type ServiceData } from './replicate.ts';
import { Replicator } from './replicator.ts';
import { syncStatus } from './sync-status.ts';
import { watermarkRequest } from './watermark.ts';

export interface RunningSync {
  /** The health, metrics and status endpoints. */
  url: string;
  replicator: Replicator;
  close(): Promise<void>;
}

/**
 * The replicator as a process: capture installed for every service, the copy loop running, and a
 * small HTTP listener for `/healthz`, `/metrics` (Prometheus: lag, pending, applied, strays) and
 * `/status` (JSON, what `strangler data status` prints), and `/watermark` (a long poll: has every
 * change committed before a moment been applied? what shadow comparisons wait for).
 */
export async function startSyncServer(
  services: readonly ServiceData[],
  opts: { port: number; host: string; intervalMs?: number; log: Logger },
): Promise<RunningSync> {
  for (const data of services) await prepareSync(data);
  const metrics = new SyncMetrics();
  const replicator = new Replicator(services, { metrics, log: opts.log, ...(opts.intervalMs ? { intervalMs: opts.intervalMs } : {}) });
  // The first round before answering healthy: a caller that waits for health sees the sides in step.
  await replicator.round();
  replicator.start();
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://sync.invalid');
      const path = url.pathname;
      if (path === '/healthz') return send(res, 200, 'application/json', JSON.stringify({ status: 'ok', rounds: replicator.rounds }));
      if (path === '/metrics') return send(res, 200, metrics.registry.contentType, await metrics.registry.metrics());
      if (path === '/status')
        return send(res, 200, 'application/json', JSON.stringify(await Promise.all(services.map(syncStatus)), null, 2));
      if (path === '/watermark') {
        const { status, body } = await watermarkRequest(replicator.watermarks, url.searchParams);
        return send(res, status, 'application/json', JSON.stringify(body));
      }
      send(
        res,
        404,
        'application/json',
        JSON.stringify({ error: { code: 'not_found', message: 'Try /healthz, /metrics, /status or /watermark.' } }),
      );
    })().catch((err: unknown) => {
      opts.log.error({ error: (err as Error).message }, 'sync status request failed');
      send(
        res,
        500,
        'application/json',
        JSON.stringify({ error: { code: 'internal_error', message: 'Something went wrong; see the log.' } }),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host}:${port}`,
    replicator,
    async close() {
      // Long polls of /watermark answered now, so closing the listener need not wait for them.
      replicator.watermarks.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await replicator.stop();
    },
  };
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
