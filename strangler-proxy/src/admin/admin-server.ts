import http from 'node:http';
import type { Logger } from 'pino';
import type { RouteTables } from '../config/route-table-store.ts';
import { sendError } from '../errors.ts';
import type { ProxyMetrics } from '../metrics/metrics.ts';
import type { InFlightWrites } from '../proxy/in-flight-writes.ts';
import type { Shadowing } from '../shadow/start-shadowing.ts';
import type { UpstreamRegistry } from '../proxy/upstream-registry.ts';
import { explainRoute, describeTable } from './describe-table.ts';
import { adminTokenOf, isAdminToken } from './admin-token.ts';
import { handleLogin, handleLogout, sendHtml, sendLoginForm, showLogin } from './admin-login.ts';
import { hasSession } from './admin-session.ts';
import { examplePage, LOGIN_CSS, overviewPage, REPORT_CSS, routePage, type PausedCopies } from './report-page.ts';
import { isAllowedHost, parseHost } from '../proxy/host-header.ts';
import type { ProxyErrorCode } from '../errors.ts';
import { buildReport, parseSince } from '../shadow/shadow-report.ts';

export interface AdminDeps {
  store: RouteTables;
  upstreams: UpstreamRegistry;
  metrics: ProxyMetrics;
  inFlightWrites: InFlightWrites;
  shadowing: Shadowing;
  adminToken: string | undefined;
  /** Host values answered beyond the probes (formatted allow-list entries, ADMIN_ALLOWED_HOSTS). */
  allowedHosts: readonly string[];
  log: Logger;
  /** False while starting or draining. */
  ready: () => boolean;
}

// Only its own stylesheet and forms: nothing stored from traffic can run as script on these pages.
const html = sendHtml;

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/**
 * The admin API, on its own listener so it is never exposed with the public port:
 * `/__strangler/healthz`, `readyz`, `metrics` (open: probes and scrapers); `routes`, `explain`,
 * `writes`, the shadow report at `/__strangler/` (HTML) and `shadow.json` (the token, or a session
 * from the login form); `POST reload` (the token in a header).
 */
export function createAdminServer(deps: AdminDeps): http.Server {
  if (!deps.adminToken) deps.log.warn('ADMIN_TOKEN is not set: the admin API serves only healthz, readyz and metrics');
  return http.createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
    void handle(deps, req, res).catch((err: unknown) => {
      deps.log.error({ err }, 'admin request failed');
      sendError(res, 'internal_error');
    });
  });
}

/** Answered whatever the Host and without a token: load balancers and scrapers send neither. */
const PROBES = new Set(['/__strangler/healthz', '/__strangler/readyz', '/__strangler/metrics']);
/** Needed to show the login form, so open to any allowed Host. */
const LOGIN_PATHS = new Set(['/__strangler/report.css', '/__strangler/login', '/__strangler/logout']);
/** HTML pages: without a session they show the login form instead of a JSON error. */
const PAGE = /^\/__strangler(?:\/shadow\/.*)?$/;

const HOW_TO_AUTHENTICATE =
  'Send the admin token as Authorization: Bearer <ADMIN_TOKEN> (or x-strangler-token: <ADMIN_TOKEN>); in a browser, log in at /__strangler/login (a browser session reads, it does not reload).';

/**
 * The shadowed routes whose copies this proxy is not sending now, their target's shadow breaker
 * open or half-open (copies got no answer): a report whose samples stopped growing says why.
 */
function pausedCopies(deps: AdminDeps): Map<string, PausedCopies> {
  const paused = new Map<string, PausedCopies>();
  for (const r of deps.store.current.routes) {
    if (r.mode !== 'shadow' || !r.service || paused.has(r.name)) continue;
    const u = deps.upstreams.find(r.service);
    if (u && u.mirrorBreaker.state !== 'closed')
      paused.set(r.name, { target: r.service, breaker: u.mirrorBreaker.state, probeEveryMs: u.spec.breaker.resetTimeoutMs });
  }
  return paused;
}

/** The request target as a URL when it is a path; undefined for any other form. */
function targetOf(raw: string | undefined): URL | undefined {
  if (!raw?.startsWith('/')) return undefined;
  try {
    // Appended, not resolved against a base: `//x/y` stays a path instead of naming a host.
    return new URL(`http://admin.invalid${raw}`);
  } catch {
    return undefined;
  }
}

/** Why the Host is refused: malformed or repeated (400), or not an admin name (421; probes excepted). */
function hostRefusal(
  req: http.IncomingMessage,
  allowed: readonly string[],
  probe: boolean,
): { code: ProxyErrorCode; message: string } | undefined {
  const hosts = req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i]!.toLowerCase() === 'host').length;
  if (hosts > 1) return { code: 'invalid_host', message: 'send exactly one Host header' };
  const host = req.headers.host;
  if (host === undefined)
    return probe ? undefined : { code: 'invalid_host', message: 'send a Host header naming the admin listener, e.g. localhost:8081' };
  const parsed = parseHost(host);
  if (!parsed)
    return {
      code: 'invalid_host',
      message: 'the Host header must be a host name, IPv4 address or [IPv6] address with an optional :port (0–65535), and nothing else',
    };
  if (!probe && !isAllowedHost(parsed, allowed)) {
    return {
      code: 'misdirected_request',
      message:
        'The admin listener answers only the names in ADMIN_ALLOWED_HOSTS (default localhost, 127.0.0.1 and [::1]): reach it by one of those, or add the name you use.',
    };
  }
  return undefined;
}

/** A path segment percent-decoded, or undefined when its encoding is malformed. */
function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

async function handle(deps: AdminDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const refuse = (code: ProxyErrorCode, message?: string, headers?: Record<string, string>): void => {
    deps.metrics.rejected.inc({ reason: code });
    sendError(res, code, { message, headers });
  };
  const url = targetOf(req.url);
  if (!url) return refuse('invalid_path', 'the request target must be a path, e.g. /__strangler/routes');
  const path = url.pathname.replace(/\/+$/, '');
  const hostRefused = hostRefusal(req, deps.allowedHosts, PROBES.has(path));
  if (hostRefused) return refuse(hostRefused.code, hostRefused.message);
  const writes = req.method !== 'GET' && req.method !== 'HEAD';

  if (!PROBES.has(path) && !LOGIN_PATHS.has(path)) {
    // Fail closed: without a token there is no way to tell the operator from a local process or a page.
    if (!deps.adminToken)
      return refuse(
        'admin_token_unset',
        'This admin endpoint is served only when ADMIN_TOKEN is set on the proxy (at least 16 characters): set it and restart. Until then only healthz, readyz and metrics answer.',
      );
    const byHeader = isAdminToken(adminTokenOf(req.headers), deps.adminToken);
    // The session cookie opens reads only: a write always needs the token itself, so no page can make one.
    const bySession = !writes && hasSession(req.headers.cookie, deps.adminToken);
    if (!byHeader && !bySession) {
      if (!writes && PAGE.test(path)) {
        deps.metrics.rejected.inc({ reason: 'unauthorized' });
        return sendLoginForm(res, url.pathname + url.search);
      }
      return refuse('unauthorized', HOW_TO_AUTHENTICATE, { 'www-authenticate': 'Bearer realm="strangler"' });
    }
  }

  const table = deps.store.current;
  switch (`${writes ? 'POST' : 'GET'} ${path}`) {
    case 'GET /__strangler/login':
      return showLogin(res, url.searchParams.get('next'));
    case 'POST /__strangler/login':
      if (!deps.adminToken)
        return refuse('admin_token_unset', 'Logging in needs ADMIN_TOKEN set on the proxy (at least 16 characters): set it and restart.');
      return handleLogin(req, res, deps.adminToken, refuse);
    case 'POST /__strangler/logout':
      return handleLogout(req, res, refuse);
    case 'GET /__strangler/healthz':
      return json(res, 200, { status: 'ok' });
    case 'GET /__strangler/readyz':
      // A stale table is still served (the last good one), so the proxy stays ready; the detail says so.
      return json(res, deps.ready() ? 200 : 503, {
        status: deps.ready() ? 'ready' : 'not ready',
        configVersion: table.version,
        routes: deps.store.status(),
      });
    case 'GET /__strangler/metrics': {
      const text = await deps.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
      return void res.end(text);
    }
    case 'GET /__strangler/routes':
      return json(res, 200, { ...describeTable(table, deps.upstreams), source: deps.store.status() });
    case 'GET /__strangler/explain': {
      const method = url.searchParams.get('method')?.toUpperCase();
      const target = url.searchParams.get('path');
      if (!method || !target)
        return sendError(res, 'bad_request', { message: 'give method and path, e.g. ?method=GET&path=/api/listings/7' });
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
      return json(res, 200, {
        version: table.version,
        hash: table.hash,
        inFlight: deps.inFlightWrites.total(),
        onOlderTables: deps.inFlightWrites.olderThan(table.version),
        abandonedOnOlderTables: deps.inFlightWrites.countsOlderThan(table.version).abandoned,
      });
    case 'GET /__strangler':
    case 'GET /__strangler/shadow.json': {
      const since = url.searchParams.get('since') ?? '24h';
      const sinceMs = parseSince(since);
      if (sinceMs === undefined) return sendError(res, 'bad_request', { message: 'since must look like 30s, 15m, 2h or 7d' });
      const counters = await deps.shadowing.results.counters({
        route: url.searchParams.get('route') ?? undefined,
        since: new Date(Date.now() - sinceMs),
      });
      const routes = buildReport(counters, deps.shadowing.settingsOf);
      const paused = pausedCopies(deps);
      if (path.endsWith('.json'))
        return json(res, 200, {
          since,
          store: deps.shadowing.results.kind,
          routes: routes.map((r) => ({ ...r, paused: paused.get(r.route) ?? null })),
        });
      return html(
        res,
        200,
        overviewPage(routes, {
          since,
          store: deps.shadowing.results.kind === 'postgres' ? 'PostgreSQL (every proxy)' : 'this proxy’s memory',
          paused,
        }),
      );
    }
    case 'GET /__strangler/report.css':
      res.writeHead(200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'max-age=300' });
      return void res.end(`${REPORT_CSS}\n${LOGIN_CSS}`);
    case 'POST /__strangler/reload': {
      const result = await deps.store.reload();
      return result.ok
        ? json(res, 200, { reloaded: result.changed, version: result.table.version, hash: result.table.hash })
        : sendError(res, 'bad_request', { message: `the route table was refused; the last good one stays:\n${result.error.message}` });
    }
    default: {
      // /__strangler/shadow/<route> and /__strangler/shadow/<route>/examples/<id>
      const m = !writes && /^\/__strangler\/shadow\/([^/]+)(?:\/examples\/(\d+))?$/.exec(path);
      if (!m) return sendError(res, 'not_found');
      const route = decodeSegment(m[1]!);
      if (route === undefined)
        return refuse(
          'invalid_path',
          'the route name in the path has a malformed percent-encoding: write each reserved byte as %XX of its UTF-8',
        );
      if (m[2]) {
        // Ids are database integers: one past what a number holds exactly names no example (and the database would refuse it).
        const id = Number(m[2]);
        const example = Number.isSafeInteger(id) ? await deps.shadowing.results.example(id) : undefined;
        return example && example.route === route
          ? html(res, 200, examplePage(example))
          : sendError(res, 'not_found', { message: 'No such example (examples are kept for a limited time).' });
      }
      const [report] = buildReport(await deps.shadowing.results.counters({ route }), deps.shadowing.settingsOf);
      if (!report) return sendError(res, 'not_found', { message: `No shadow samples for route ${route}.` });
      return html(res, 200, routePage(report, await deps.shadowing.results.examples({ route, limit: 200 }), pausedCopies(deps).get(route)));
    }
  }
}
