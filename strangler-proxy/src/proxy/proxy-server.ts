import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { createAdminServer } from '../admin/admin-server.ts';
import type { ProxyConfig } from '../config/proxy-config.ts';
import { RouteTableStore, type RouteTables } from '../config/route-table-store.ts';
import { SharedRouteTableStore } from '../config/shared-route-table-store.ts';
import { liveFigures } from '../metrics/live-figures.ts';
import { PROXY_ERRORS, sendError, type ProxyErrorCode } from '../errors.ts';
import { ProxyMetrics } from '../metrics/metrics.ts';
import { ConcurrencyLimit } from '../resilience/concurrency-limit.ts';
import { IdempotencyGuard } from './idempotency-guard.ts';
import { DryRunMarks } from '../shadow/dry-run-mark.ts';
import { ByteBudget } from '../resilience/byte-budget.ts';
import { InFlightWrites } from './in-flight-writes.ts';
import { startShadowing, type Shadowing } from '../shadow/start-shadowing.ts';
import { createRequestHandler } from './request-handler.ts';
import { UpstreamRegistry } from './upstream-registry.ts';
import { createUpgradeHandler } from './websocket-handler.ts';

export interface RunningProxy {
  url: string;
  adminUrl: string;
  store: RouteTables;
  metrics: ProxyMetrics;
  shadowing: Shadowing;
  /** Stop accepting, drain requests in flight (up to the grace period), close everything. */
  close(): Promise<void>;
}

/**
 * Node's parser errors → our answer. The parser refuses ambiguous framing, malformed header lines,
 * oversized headers and slow senders before our handler runs; these codes map its refusals.
 */
const PARSER_ERRORS: Record<string, ProxyErrorCode> = {
  HPE_HEADER_OVERFLOW: 'request_header_fields_too_large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'payload_too_large',
  ERR_HTTP_REQUEST_TIMEOUT: 'request_timeout',
};

async function listen(server: http.Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  return `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
}

/** Loads the route table, starts the public and admin listeners, and watches the table for changes. */
export async function startProxy(config: ProxyConfig, log: Logger): Promise<RunningProxy> {
  const store: RouteTables = config.routesStore
    ? await SharedRouteTableStore.open({ ...config.routesStore, seedFile: config.routesFile, log })
    : RouteTableStore.open(config.routesFile!);
  const metrics = new ProxyMetrics();
  const upstreams = new UpstreamRegistry(metrics);
  upstreams.sync(store.current);
  metrics.setConfig(store.current.version, store.current.hash);
  if (store instanceof SharedRouteTableStore) store.reportFigures(() => liveFigures(metrics, store.current));
  metrics.watchTableStaleness(() => {
    const source = store.status();
    return source.kind === 'store' && source.stale;
  });
  store.on('reload', (r) => {
    metrics.reloads.inc({ result: r.ok ? 'ok' : 'failed' });
    if (r.ok) {
      upstreams.sync(r.table);
      metrics.setConfig(r.table.version, r.table.hash);
      log.info({ version: r.table.version, hash: r.table.hash }, 'route table reloaded');
    } else {
      log.error({ problems: r.error.message }, 'route table refused; the last good table stays');
    }
  });

  let draining = false;
  const inFlightWrites = new InFlightWrites();
  if (store instanceof SharedRouteTableStore) store.reportWrites(() => inFlightWrites.byVersion());
  const shadowing = await startShadowing(config, { routes: store, metrics, log });
  const dryRunMarks = DryRunMarks.fromSecrets(config.dryRunSecret, config.adminToken);
  const deps = {
    config,
    store,
    dryRunMarks,
    keepDryRun: (value: string): boolean => {
      const ok = dryRunMarks.verify(value);
      if (!ok) metrics.dryRunRefused.inc();
      return ok;
    },
    upstreams,
    metrics,
    fallbackLimit: new ConcurrencyLimit(config.limits.fallbackConcurrency),
    bodyBudget: new ByteBudget(config.limits.maxBufferedBytes),
    idempotency: new IdempotencyGuard(),
    inFlightWrites,
    shadow: shadowing.mirror,
    log,
    draining: () => draining,
  };
  const server = http.createServer(
    {
      maxHeaderSize: config.limits.maxHeaderBytes,
      headersTimeout: config.limits.headersTimeoutMs,
      // Our body reader answers 408 first; Node's own limit is the backstop.
      requestTimeout: config.limits.requestTimeoutMs + 1000,
      keepAliveTimeout: config.limits.idleTimeoutMs,
      // Check slow connections every second, not every 30 (Node's default), so timeouts are timely.
      connectionsCheckingInterval: 1000,
      requireHostHeader: true,
      insecureHTTPParser: false,
      // req.headers keeps every value of a repeated field (Node would drop all but the first
      // User-Agent, say): it is what the upstream is sent, and nothing the client said is lost.
      joinDuplicateHeaders: true,
    },
    createRequestHandler(deps),
  );
  // Past it, Node closes new connections at once: each one costs buffers, timers and a parser.
  server.maxConnections = config.limits.maxConnections;
  // One more than the limit, so the hardening step can tell "too many" from "exactly the limit".
  server.maxHeadersCount = config.limits.maxHeaders + 1;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const code = PARSER_ERRORS[err.code ?? ''] ?? 'bad_request';
    metrics.rejected.inc({ reason: code });
    const answerRaw = (): void => {
      const { status, message } = PROXY_ERRORS[code];
      const body = JSON.stringify({ error: { code, message } });
      socket.end(
        `HTTP/1.1 ${status} ${code}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    };
    const pending = (socket as { _httpMessage?: http.ServerResponse })._httpMessage;
    if (!pending) answerRaw();
    // The error is in the body of the request being handled: answer it on its own response.
    else if (!pending.req.complete && !pending.headersSent) sendError(pending, code, { close: true });
    // The error is in a pipelined request behind one still being answered: answer after it.
    else if (pending.req.complete) pending.once('finish', answerRaw);
    // end() flushes the answer and closes; destroy a socket that does not close by itself.
    setTimeout(() => socket.destroy(), 2000).unref();
  });
  const tunnels = new Set<Duplex>();
  server.on('upgrade', createUpgradeHandler(deps, tunnels));

  const admin = createAdminServer({
    store,
    upstreams,
    metrics,
    inFlightWrites,
    shadowing,
    adminToken: config.adminToken,
    allowedHosts: config.adminAllowedHosts,
    log,
    ready: () => !draining,
  });
  const url = await listen(server, config.port, config.host);
  const adminUrl = await listen(admin, config.adminPort, config.adminHost);
  store.watch();
  log.info(
    { url, adminUrl, routes: store.current.routes.length, version: store.current.version, hash: store.current.hash },
    'strangler proxy listening',
  );

  return {
    url,
    adminUrl,
    store,
    metrics,
    shadowing,
    async close() {
      draining = true;
      store.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // WebSocket tunnels hold the listener open; they end once the HTTP requests have drained
      // (their clients reconnect, to another instance), or at the deadline with everything else.
      const endTunnels = (): void => tunnels.forEach((t) => t.destroy());
      const sweep = setInterval(() => {
        server.closeIdleConnections();
        if (metrics.inFlightCount() === 0) endTunnels();
      }, 100);
      const deadline = setTimeout(() => {
        server.closeAllConnections();
        endTunnels();
      }, config.shutdownGraceMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(deadline);
      endTunnels();
      await new Promise<void>((resolve) => admin.close(() => resolve()));
      admin.closeAllConnections();
      await shadowing.close();
      upstreams.close();
    },
  };
}
