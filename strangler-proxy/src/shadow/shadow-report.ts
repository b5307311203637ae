import { isReported, rate, type NoiseThresholds } from './noise.ts';
import { readiness, type Readiness } from './readiness.ts';
import type { LatencyCounts, ShadowCounters } from './shadow-store.ts';

/** A route's noise thresholds and readiness gate (from its shadow options). */
export interface RouteSettings {
  noise: NoiseThresholds;
  gate: { minSamples: number; minScore: number };
}

export const DEFAULT_SETTINGS: RouteSettings = { noise: { relative: 0.2, absolute: 0.01 }, gate: { minSamples: 1000, minScore: 99 } };

export interface FieldReport {
  template: string;
  field: string;
  diffs: number;
  /** Share of samples where it differed service vs monolith, and monolith vs monolith. */
  diffRate: number;
  noiseRate: number;
  /** The service's doing (not noise): counts against the match rate. */
  reported: boolean;
}

export interface SideReport {
  p50Ms: number;
  p99Ms: number;
  errors: number;
  errorRate: number;
}

export interface TemplateReport {
  template: string;
  samples: number;
  /** Of `samples`, those set apart as stale (the service's data behind or ahead). */
  stale: number;
  rawMatchRate: number;
  /** Over the samples that are not stale. */
  adjustedMismatchRate: number;
}

export interface RouteReport {
  route: string;
  samples: number;
  /** Samples whose answers differed while the service's copy of the data was behind or ahead of the monolith's: in `samples` and the raw rate, left out of every other rate and the readiness. */
  stale: number;
  /** Share of all samples whose answers were equal after the route's rules (a stale one is not). */
  rawMatchRate: number;
  /** Samples that matched once noise fields are cancelled, and the share of the samples that are not stale that did not; and that did. */
  adjustedMatches: number;
  adjustedMismatchRate: number;
  adjustedMatchRate: number;
  noiseSamples: number;
  monolith: SideReport;
  service: SideReport;
  readiness: Readiness & { ready: boolean; why: string };
  /** Fields that differed, the service's first, most frequent first. */
  fields: FieldReport[];
  templates: TemplateReport[];
}

/**
 * Latency histogram buckets, ms (upper bounds): steps of 9–17 % between 0.5 and 20 ms, where
 * services answer, so the report's columns tell a service a seventh faster than the monolith at
 * 2 ms apart (steps of 1.5–2–3 ms had put both at "2 ms"); at most a quarter from 0.2 ms to 1 s,
 * wider outside. The report interpolates within a bucket. Only buckets a sample fell in are stored.
 */
export const LATENCY_BUCKETS_MS = [
  0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2, 1.3, 1.4, 1.6, 1.8, 2, 2.25, 2.5, 2.75, 3, 3.5, 4,
  4.5, 5, 5.5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 18, 20, 25, 30, 35, 40, 50, 60, 70, 80, 90, 100, 120, 140, 160, 180, 200, 250, 300, 350, 400,
  500, 600, 700, 800, 900, 1000, 1500, 2000, 3000, 5000, 7500, 10_000, 20_000, 30_000, 60_000,
];

/**
 * The p-th percentile from histogram counts, ms to the hundredth: found in its bucket, then placed
 * within it linearly between the bucket's bounds, as Prometheus' `histogram_quantile` does — the
 * bucket's upper bound alone would put two sides whose answers share a bucket at one figure. Only
 * buckets where samples fell are stored, so a bucket's lower bound is the bound below it in
 * `LATENCY_BUCKETS_MS` (or the stored bucket below it, for rows stored under other bounds).
 */
export function percentileMs(rows: readonly LatencyCounts[], p: number): number {
  const byLe = new Map<number, number>();
  for (const r of rows) byLe.set(r.leMs, (byLe.get(r.leMs) ?? 0) + r.count);
  const sorted = [...byLe].sort(([a], [b]) => a - b);
  const total = sorted.reduce((s, [, n]) => s + n, 0);
  if (!total) return 0;
  const rank = (p / 100) * total;
  let seen = 0;
  let below = 0;
  for (const [le, n] of sorted) {
    if (seen + n >= rank) {
      // Compared as float32: PostgreSQL stores the bounds as `real` (1.1 reads back as 1.100000023…).
      const lower = Math.max(below, LATENCY_BUCKETS_MS.findLast((b) => Math.fround(b) < Math.fround(le)) ?? 0);
      return Math.round((lower + ((le - lower) * (rank - seen)) / n) * 100) / 100;
    }
    seen += n;
    below = le;
  }
  return sorted.at(-1)![0];
}

/**
 * The report of shadow traffic: per route, samples (and how many were stale), the raw match rate
 * over all of them and the adjusted rates (noise cancelled, stale left out), both
 * sides' latency and errors, the fields that differed (reported or noise) and the readiness score.
 * A sample counts as matching, once noise is cancelled, unless one of the fields it differed in is
 * reported for its path template.
 */
export function buildReport(c: ShadowCounters, settingsOf: (route: string) => RouteSettings = () => DEFAULT_SETTINGS): RouteReport[] {
  const routes = [...new Set(c.routes.map((r) => r.route))].sort();
  return routes.map((route) => {
    const settings = settingsOf(route);
    const rows = c.routes.filter((r) => r.route === route);
    const fields: FieldReport[] = [];
    const templates: TemplateReport[] = [];
    let adjustedMismatches = 0;
    for (const row of rows) {
      const reportedHere = new Set<string>();
      // Stale samples prove nothing either way: every rate below is over the others.
      const stale = row.stale ?? 0;
      const compared = row.samples - stale;
      for (const f of c.fields.filter((x) => x.route === route && x.template === row.template)) {
        const reported = isReported({ samples: compared, diffs: f.diffs, noiseSamples: row.noiseSamples, noise: f.noise }, settings.noise);
        if (reported) reportedHere.add(f.field);
        if (f.diffs > 0)
          fields.push({
            template: row.template,
            field: f.field,
            diffs: f.diffs,
            diffRate: rate(f.diffs, compared),
            noiseRate: rate(f.noise, row.noiseSamples),
            reported,
          });
      }
      const mismatches = c.signatures
        .filter((s) => s.route === route && s.template === row.template && s.fields.some((f) => reportedHere.has(f)))
        .reduce((n, s) => n + s.count, 0);
      adjustedMismatches += mismatches;
      templates.push({
        template: row.template,
        samples: row.samples,
        stale,
        rawMatchRate: rate(row.matches, row.samples),
        adjustedMismatchRate: rate(mismatches, compared),
      });
    }
    const sum = (k: 'samples' | 'matches' | 'monolithErrors' | 'serviceErrors' | 'noiseSamples' | 'stale'): number =>
      rows.reduce((n, r) => n + (r[k] ?? 0), 0);
    const samples = sum('samples');
    const stale = sum('stale');
    const compared = samples - stale;
    const side = (s: 'monolith' | 'service', errors: number): SideReport => {
      const lat = c.latency.filter((l) => l.route === route && l.side === s);
      return { p50Ms: percentileMs(lat, 50), p99Ms: percentileMs(lat, 99), errors, errorRate: rate(errors, samples) };
    };
    const monolith = side('monolith', sum('monolithErrors'));
    const service = side('service', sum('serviceErrors'));
    const adjustedMatches = compared - adjustedMismatches;
    const r = readiness({
      samples: compared,
      adjustedMatches,
      monolithErrors: monolith.errors,
      serviceErrors: service.errors,
      monolithP99Ms: monolith.p99Ms,
      serviceP99Ms: service.p99Ms,
    });
    const ready = compared >= settings.gate.minSamples && r.score >= settings.gate.minScore;
    const why =
      compared < settings.gate.minSamples
        ? `${compared} of ${settings.gate.minSamples} samples${stale ? `, not counting ${stale} stale` : ''}`
        : ready
          ? `score ${r.score} ≥ ${settings.gate.minScore}`
          : `score ${r.score} < ${settings.gate.minScore}`;
    fields.sort((a, b) => Number(b.reported) - Number(a.reported) || b.diffRate - a.diffRate || a.field.localeCompare(b.field));
    templates.sort((a, b) => b.samples - a.samples);
    return {
      route,
      samples,
      stale,
      rawMatchRate: rate(sum('matches'), samples),
      adjustedMatches,
      adjustedMismatchRate: rate(adjustedMismatches, compared),
      adjustedMatchRate: rate(adjustedMatches, compared),
      noiseSamples: sum('noiseSamples'),
      monolith,
      service,
      readiness: { ...r, ready, why },
      fields,
      templates,
    };
  });
}

/** `30s`, `15m`, `2h`, `7d` as milliseconds; undefined for anything else. */
export function parseSince(text: string): number | undefined {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}
