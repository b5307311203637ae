import type { RouteTable } from '../routing/route-table.ts';
import type { ProxyMetrics } from './metrics.ts';

/**
 * What one side of a route group has answered since the proxy started: requests, server errors (its
 * failed attempts that fell back to the monolith among them) and the latency histogram (cumulative counts per upper bound, in seconds). Each proxy puts these into
 * its report to the shared store, so a cutover can compare the target with the monolith from the
 * fleet's own figures without reaching every task.
 */
export interface SideFigures {
  requests: number;
  errors: number;
  /** [upper bound in seconds, requests at or below it], ascending, finite bounds only (JSON has no Infinity): the rest are above the last. */
  buckets: [number, number][];
}

/** group → upstream → its figures. */
export type LiveFigures = Record<string, Record<string, SideFigures>>;

export async function liveFigures(metrics: ProxyMetrics, table: RouteTable): Promise<LiveFigures> {
  const groupOf = new Map(table.routes.map((r) => [r.name, r.group]));
  const out: LiveFigures = {};
  const side = (route: unknown, target: unknown): SideFigures | undefined => {
    const group = groupOf.get(String(route));
    if (!group || typeof target !== 'string') return undefined;
    out[group] ??= {};
    return (out[group][target] ??= { requests: 0, errors: 0, buckets: [] });
  };
  for (const v of (await metrics.requests.get()).values) {
    const s = side(v.labels.route, v.labels.target);
    if (!s) continue;
    s.requests += v.value;
    if (v.labels.status_class === '5xx') s.errors += v.value;
  }
  // A target's failure that fell back is answered (and counted) by the monolith; it is still a failed
  // attempt of the target's, which its error rate must show.
  for (const v of (await metrics.fallbacks.get()).values) {
    const s = side(v.labels.route, v.labels.from);
    if (!s) continue;
    s.requests += v.value;
    s.errors += v.value;
  }
  for (const v of (await metrics.duration.get()).values) {
    if (v.metricName !== 'strangler_request_duration_seconds_bucket') continue;
    const s = side(v.labels.route, v.labels.target);
    if (!s) continue;
    const bound = (v.labels as { le?: string | number }).le;
    if (bound === '+Inf') continue;
    const le = Number(bound);
    const at = s.buckets.find((b) => b[0] === le);
    if (at) at[1] += v.value;
    else s.buckets.push([le, v.value]);
  }
  for (const group of Object.values(out)) for (const s of Object.values(group)) s.buckets.sort((a, b) => a[0] - b[0]);
  return out;
}

const EMPTY: SideFigures = { requests: 0, errors: 0, buckets: [] };

/** `later` minus `earlier` (one proxy's counters); a proxy that restarted in between counts from zero. */
export function since(earlier: SideFigures | undefined, later: SideFigures): SideFigures {
  const e = earlier ?? EMPTY;
  if (later.requests < e.requests) return later;
  const before = new Map(e.buckets);
  return {
    requests: later.requests - e.requests,
    errors: later.errors - e.errors,
    buckets: later.buckets.map(([le, n]) => [le, n - (before.get(le) ?? 0)] as [number, number]),
  };
}

/** The figures of several proxies added up. */
export function sum(parts: readonly SideFigures[]): SideFigures {
  const buckets = new Map<number, number>();
  for (const p of parts) for (const [le, n] of p.buckets) buckets.set(le, (buckets.get(le) ?? 0) + n);
  return {
    requests: parts.reduce((n, p) => n + p.requests, 0),
    errors: parts.reduce((n, p) => n + p.errors, 0),
    buckets: [...buckets].sort((a, b) => a[0] - b[0]),
  };
}

/**
 * The 99th percentile, in seconds, as the upper bound of the bucket it falls in (what Prometheus'
 * histogram_quantile reports at the bucket's edge): coarse, the same rule for both sides.
 */
export function p99(f: SideFigures): number | undefined {
  if (!f.requests) return undefined;
  const rank = 0.99 * f.requests;
  return f.buckets.find(([, n]) => n >= rank)?.[0] ?? Number.POSITIVE_INFINITY;
}

export const errorRate = (f: SideFigures): number => (f.requests ? f.errors / f.requests : 0);
