import http from 'node:http';
import type { Logger } from 'pino';
import type { RouteTableStore } from '../config/route-table-store.ts';
import { sendError } from '../errors.ts';
import type { ProxyMetrics } from '../metrics/metrics.ts';
import type { InFlightWrites } from '../proxy/in-flight-writes.ts';
import type { UpstreamRegistry } from '../proxy/upstream-registry.ts';
import { explainRoute, describeTable } from './describe-table.ts';
import { adminTokenOf, isAdminToken } from './admin-token.ts';

export interface AdminDeps {
  store: RouteTableStore;
  upstreams: UpstreamRegistry;
  metrics: ProxyMetrics;
  writes: InFlightWrites;
  adminToken: string | undefined;
  log: Logger;
  /** False while starting or draining. */
  ready: () => boolean;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * The admin API, on its own listener so it is never exposed with the public port:
 * `/__strangler/healthz`, `readyz`, `metrics`, `routes`, `explain`, `writes`; `POST reload` needs the token.
 */
export function createAdminServer(deps: AdminDeps): http.Server {
  return http.createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
    void handle(deps, req, res).catch((err: unknown) => {
      deps.log.error({ err }, 'admin request failed');
      sendError(res, 'internal_error');
    });
  });
}

async function handle(deps: AdminDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin.invalid');
  const path = url.pathname.replace(/\/+$/, '');
  const writes = req.method !== 'GET' && req.method !== 'HEAD';
  if (writes && !isAdminToken(adminTokenOf(req.headers), deps.adminToken)) {
    deps.metrics.rejected.inc({ reason: 'unauthorized' });
    return sendError(res, 'unauthorized', { headers: { 'www-authenticate': 'Bearer realm="strangler"' } });
  }
  const table = deps.store.current;
  switch (`${writes ? 'POST' : 'GET'} ${path}`) {
    case 'GET /__strangler/healthz':
      return json(res, 200, { status: 'ok' });
    case 'GET /__strangler/readyz':
      return json(res, deps.ready() ? 200 : 503, { status: deps.ready() ? 'ready' : 'not ready', configVersion: table.version });
    case 'GET /__strangler/metrics': {
      const text = await deps.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
      return void res.end(text);
    }
    case 'GET /__strangler/routes':
      return json(res, 200, describeTable(table, deps.upstreams));
    case 'GET /__strangler/explain': {
      const method = url.searchParams.get('method')?.toUpperCase();
      const target = url.searchParams.get('path');
      if (!method || !target) return sendError(res, 'bad_request', { message: 'give method and path, e.g. ?method=GET&path=/api/listings/7' });
      const headers = Object.fromEntries(
        url.searchParams.getAll('header').map((h) => {
          const i = h.indexOf(':');
          return [h.slice(0, i).trim().toLowerCase(), h.slice(i + 1).trim()];
        }),
      );
      return json(res, 200, explainRoute(table, method, target, headers, url.searchParams.get('user') ?? 'anonymous'));
    }
    case 'GET /__strangler/writes':
      // What a writer switch polls after freezing: writes still running on an older table.
      return json(res, 200, { version: table.version, hash: table.hash, inFlight: deps.writes.total(), onOlderTables: deps.writes.olderThan(table.version) });
    case 'POST /__strangler/reload': {
      const result = deps.store.reload();
      return result.ok
        ? json(res, 200, { reloaded: result.changed, version: result.table.version, hash: result.table.hash })
        : sendError(res, 'bad_request', { message: `the route table was refused; the last good one stays:\n${result.error.message}` });
    }
    default:
      return sendError(res, 'not_found');
  }
}
