import http from 'node:http';
import type { Logger } from 'pino';
import type { RouteTableStore } from '../config/route-table-store.ts';
import { sendError } from '../errors.ts';
import type { ProxyMetrics } from '../metrics/metrics.ts';
import type { InFlightWrites } from '../proxy/in-flight-writes.ts';
import type { Shadowing } from '../shadow/shadowing.ts';
import type { UpstreamRegistry } from '../proxy/upstream-registry.ts';
import { explainRoute, describeTable } from './describe-table.ts';
import { adminTokenOf, isAdminToken } from './admin-token.ts';
import { examplePage, overviewPage, REPORT_CSS, routePage } from './report-page.ts';
import { buildReport, parseSince } from '../shadow/shadow-report.ts';

export interface AdminDeps {
  store: RouteTableStore;
  upstreams: UpstreamRegistry;
  metrics: ProxyMetrics;
  writes: InFlightWrites;
  shadowing: Shadowing;
  adminToken: string | undefined;
  log: Logger;
  /** False while starting or draining. */
  ready: () => boolean;
}

function html(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    // Only its own stylesheet: nothing stored from traffic can run as script on this page.
    'content-security-policy': "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * The admin API, on its own listener so it is never exposed with the public port:
 * `/__strangler/healthz`, `readyz`, `metrics`, `routes`, `explain`, `writes`; the shadow report at
 * `/__strangler/` (HTML) and `shadow.json`; `POST reload` needs the token.
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
      return json(res, 200, { version: table.version, hash: table.hash, inFlight: deps.writes.total(), onOlderTables: deps.writes.olderThan(table.version), abandonedOnOlderTables: deps.writes.countsOlderThan(table.version).abandoned });
    case 'GET /__strangler':
    case 'GET /__strangler/shadow.json': {
      const since = url.searchParams.get('since') ?? '24h';
      const sinceMs = parseSince(since);
      if (sinceMs === undefined) return sendError(res, 'bad_request', { message: 'since must look like 30s, 15m, 2h or 7d' });
      const counters = await deps.shadowing.results.counters({ route: url.searchParams.get('route') ?? undefined, since: new Date(Date.now() - sinceMs) });
      const routes = buildReport(counters, deps.shadowing.settingsOf);
      if (path.endsWith('.json')) return json(res, 200, { since, store: deps.shadowing.results.kind, routes });
      return html(res, 200, overviewPage(routes, { since, store: deps.shadowing.results.kind === 'postgres' ? 'PostgreSQL (every proxy)' : 'this proxy’s memory' }));
    }
    case 'GET /__strangler/report.css':
      res.writeHead(200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'max-age=300' });
      return void res.end(REPORT_CSS);
    case 'POST /__strangler/reload': {
      const result = deps.store.reload();
      return result.ok
        ? json(res, 200, { reloaded: result.changed, version: result.table.version, hash: result.table.hash })
        : sendError(res, 'bad_request', { message: `the route table was refused; the last good one stays:\n${result.error.message}` });
    }
    default: {
      // /__strangler/shadow/<route> and /__strangler/shadow/<route>/examples/<id>
      const m = !writes && /^\/__strangler\/shadow\/([^/]+)(?:\/examples\/(\d+))?$/.exec(path);
      if (!m) return sendError(res, 'not_found');
      const route = decodeURIComponent(m[1]!);
      if (m[2]) {
        const example = await deps.shadowing.results.example(Number(m[2]));
        return example && example.route === route ? html(res, 200, examplePage(example)) : sendError(res, 'not_found', { message: 'No such example (examples are kept for a limited time).' });
      }
      const [report] = buildReport(await deps.shadowing.results.counters({ route }), deps.shadowing.settingsOf);
      if (!report) return sendError(res, 'not_found', { message: `No shadow samples for route ${route}.` });
      return html(res, 200, routePage(report, await deps.shadowing.results.examples({ route, limit: 200 })));
    }
  }
}
