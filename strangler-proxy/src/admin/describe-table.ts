import { parseCookies } from '@strangler/service-kit/cookies';
import type { IncomingHttpHeaders } from 'node:http';
import { normalizePath } from '../routing/normalize-path.ts';
import { isSafeMethod } from '../resilience/upstream-failure.ts';
import type { RouteTable } from '../routing/route-table.ts';
import type { UpstreamRegistry } from '../proxy/upstream-registry.ts';

/** The table in force, as JSON for `/__strangler/routes`. */
export function describeTable(table: RouteTable, upstreams?: UpstreamRegistry) {
  return {
    version: table.version,
    hash: table.hash,
    loadedAt: table.loadedAt.toISOString(),
    default: table.defaultUpstream,
    upstreams: Object.fromEntries(
      [...table.upstreams].map(([name, spec]) => {
        const u = upstreams?.find(name);
        return [
          name,
          {
            url: spec.url,
            timeoutMs: spec.timeoutMs,
            breaker: u?.breaker.state ?? 'closed',
            shadowBreaker: u?.mirrorBreaker.state ?? 'closed',
          },
        ];
      }),
    ),
    routes: table.routes.map((r) => ({
      name: r.name,
      group: r.group,
      line: r.line,
      methods: r.methods ? [...r.methods] : 'any',
      path: r.path.source,
      conditions: [...r.headers, ...r.cookies].map((p) => p.describe),
      mode: r.mode,
      target: r.service ?? null,
      weight: r.weight,
      frozen: r.frozen,
    })),
  };
}

/** Which rule a request would hit, where it would go, and why. */
export function explainRoute(table: RouteTable, method: string, target: string, headers: IncomingHttpHeaders, userKey: string) {
  const norm = normalizePath(target);
  if (!norm.ok) return { refused: true, reason: `the proxy answers 400: ${norm.reason}` };
  const decision = table.decide({
    method,
    segments: norm.segments,
    headers,
    cookies: parseCookies(headers.cookie as string | undefined),
    userKey: { value: userKey },
  });
  return {
    method,
    path: norm.path,
    route: decision.route ? { name: decision.route.name, line: decision.route.line, group: decision.route.group } : null,
    mode: decision.mode,
    target: decision.upstream,
    fallback: decision.upstream === table.defaultUpstream ? null : table.defaultUpstream,
    reason:
      decision.route?.frozen && !isSafeMethod(method)
        ? `${decision.reason}; writes are frozen (503) while its data moves`
        : decision.reason,
  };
}
