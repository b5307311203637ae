import { METHODS } from '../config/route-table-schema.ts';
import { isSafeMethod } from '../resilience/upstream-failure.ts';
import { representativePaths } from './path-pattern.ts';
import type { CompiledRoute, RouteTable } from './route-table.ts';

/** A kind of request whose handling differs between two tables. */
export interface RouteChange {
  method: string;
  /** A pattern-like path standing for the kind (`/api/listings/:param`). */
  path: string;
  conditions: string[];
  before: string;
  after: string;
}

/** How a table handles a request, in words that compare: mode, target, weight, and a freeze of writes. */
function handling(table: RouteTable, route: CompiledRoute | undefined, method: string): string {
  if (!route) return `default → ${table.defaultUpstream}`;
  const frozen = route.frozen && !isSafeMethod(method) ? ' (writes frozen: 503)' : '';
  if (route.mode === 'canary') return `${route.name}: canary ${route.weight}% → ${route.service} (else ${table.defaultUpstream})${frozen}`;
  if (route.mode === 'shadow')
    return `${route.name}: shadow → ${table.defaultUpstream} (mirrored ${route.shadow!.sampleRate * 100}% to ${route.service})${frozen}`;
  return `${route.name}: ${route.mode} → ${route.mode === 'monolith' ? table.defaultUpstream : route.service}${frozen}`;
}

function probes(
  route: CompiledRoute,
): { method: string; segments: string[]; shown: string; headers: Record<string, string>; conditions: string[] }[] {
  const headers: Record<string, string> = {};
  for (const p of route.headers) {
    const value = p.describe.includes(' = ') ? p.describe.split(' = ')[1]! : 'x';
    if (p.test(value)) headers[p.name] = value;
  }
  return [...(route.methods ?? METHODS)].flatMap((method) =>
    representativePaths(route.path).map((segments) => ({
      method,
      segments: segments.map((s) => (s.startsWith('\u0000') ? 'x' : s)),
      shown: `/${segments.map((s) => (s === '\u0000param' ? ':param' : s === '\u0000any' ? '*' : s)).join('/')}`,
      headers,
      conditions: [...route.headers, ...route.cookies].map((p) => p.describe),
    })),
  );
}

/**
 * The kinds of request that change handling from `before` to `after`: every route of both tables
 * is probed with a request standing for each method and path shape it matches, and both tables
 * are asked how they would handle it.
 */
export function diffTables(before: RouteTable, after: RouteTable): RouteChange[] {
  const changes = new Map<string, RouteChange>();
  for (const route of [...before.routes, ...after.routes]) {
    for (const probe of probes(route)) {
      const facts = { method: probe.method, segments: probe.segments, headers: probe.headers, cookies: new Map<string, string>() };
      const a = handling(before, before.match(facts), probe.method);
      const b = handling(after, after.match(facts), probe.method);
      if (a === b) continue;
      const key = `${probe.method} ${probe.shown} ${probe.conditions.join(',')}`;
      if (!changes.has(key))
        changes.set(key, { method: probe.method, path: probe.shown, conditions: probe.conditions, before: a, after: b });
    }
  }
  if (before.defaultUpstream !== after.defaultUpstream) {
    changes.set('default', {
      method: '*',
      path: '(unmatched)',
      conditions: [],
      before: `default → ${before.defaultUpstream}`,
      after: `default → ${after.defaultUpstream}`,
    });
  }
  return [...changes.values()];
}
