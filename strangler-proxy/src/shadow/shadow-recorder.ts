import type { Logger } from 'pino';
import type { ProxyMetrics } from '../metrics/metrics.ts';
import type { FieldDifference } from './compare-responses.ts';
import { MAX_TEMPLATE_CHARS } from './path-template.ts';
import { buildReport, LATENCY_BUCKETS_MS, type RouteSettings } from './shadow-report.ts';
import {
  addCounters,
  countersOf,
  fieldRowKey,
  latencyKey,
  newCounterMaps,
  routeKey,
  signatureKey,
  type DroppedRow,
  type ShadowExample,
  type ShadowStore,
} from './shadow-store.ts';

/** What one mirrored request produced. */
export interface ShadowSample {
  route: string;
  template: string;
  monolith: { status: number; ms: number };
  /** `status` null: the target did not answer (refused, reset, timed out). */
  service: { status: number | null; ms: number };
  /** The differences service vs monolith (empty: a match, unless stale). */
  differences: FieldDifference[];
  /** The answers differed but the service's data could not be shown to be as new as the monolith's: counted apart, neither match nor difference. */
  stale?: boolean;
  /** The differences between two monolith answers, when this sample measured noise. */
  noise: FieldDifference[] | undefined;
  /** The redacted example for a field, when one was made. */
  example: (field: string) => ShadowExample | undefined;
}

export interface RecorderOptions {
  store: ShadowStore;
  metrics: ProxyMetrics;
  log: Logger;
  /** Each route's noise thresholds and gate, from the route table in force. */
  settingsOf: (route: string) => RouteSettings;
  /** How often counters go to the store, ms (default 1 000). */
  flushMs?: number;
  /** Examples kept per route and field (default 3). */
  examplesPerField?: number;
  /** How long counters and examples are kept, ms (default 7 days). */
  retentionMs?: number;
  /** The window `examplesPerField` counts in, ms (default 60 000): each window sends fresh examples. */
  examplesWindowMs?: number;
  /** The clock, ms since the epoch (default Date.now). */
  now?: () => number;
}

/** Fields counted per route before the rest go under "(other)": response keys must not explode the store. */
const MAX_FIELDS_PER_ROUTE = 200;
const MAX_SIGNATURE_FIELDS = 20;
/** A field path longer than this (characters) is counted under "(other)": it is part of the store's keys too. */
const MAX_FIELD_CHARS = 200;
/** Templates counted per route before the rest go under "(other)": what clients send must not explode the store either. */
export const MAX_TEMPLATES_PER_ROUTE = 50;

const bucketOf = (ms: number): number => LATENCY_BUCKETS_MS.find((b) => ms <= b) ?? LATENCY_BUCKETS_MS.at(-1)!;

/**
 * Aggregates shadow samples in memory and adds them to the store every second, so a proxy writes a
 * few rows per second however busy it is; keeps a few redacted examples per field; refreshes the
 * readiness gauge and prunes what is older than the retention.
 */
export class ShadowRecorder {
  readonly store: ShadowStore;
  readonly #o: Required<Omit<RecorderOptions, 'store'>>;
  #delta = newCounterMaps();
  #pendingExamples: ShadowExample[] = [];
  readonly #examplesSent = new Map<string, number>();
  /** The examples window `#examplesSent` counts in. */
  #examplesWindow = -1;
  readonly #fieldsSeen = new Map<string, Set<string>>();
  readonly #templatesSeen = new Map<string, Set<string>>();
  /** Why rows were left out (table and SQLSTATE), logged the first time each happens. */
  readonly #dropsLogged = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #flushes = 0;

  constructor(o: RecorderOptions) {
    this.store = o.store;
    this.#o = { flushMs: 1_000, examplesPerField: 3, retentionMs: 7 * 24 * 3600_000, examplesWindowMs: 60_000, now: Date.now, ...o };
  }

  record(sample: ShadowSample): void {
    const s = { ...sample, template: this.#template(sample.route, sample.template) };
    const d = this.#delta;
    const rk = routeKey(s.route, s.template);
    let row = d.routes.get(rk);
    if (!row)
      d.routes.set(
        rk,
        (row = {
          route: s.route,
          template: s.template,
          samples: 0,
          matches: 0,
          monolithErrors: 0,
          serviceErrors: 0,
          noiseSamples: 0,
          stale: 0,
        }),
      );
    row.samples++;
    if (s.stale) row.stale = (row.stale ?? 0) + 1;
    else if (!s.differences.length) row.matches++;
    if (s.monolith.status >= 500) row.monolithErrors++;
    if (s.service.status === null || s.service.status >= 500) row.serviceErrors++;
    if (s.noise) row.noiseSamples++;
    const fields = s.stale ? [] : this.#bounded(s.route, s.differences);
    const noisy = s.noise ? this.#bounded(s.route, s.noise) : [];
    // (A match, the usual case, has no fields: no set made.)
    for (const field of fields.length + noisy.length ? new Set([...fields, ...noisy]) : []) {
      const fk = fieldRowKey(s.route, s.template, field);
      let f = d.fields.get(fk);
      if (!f) d.fields.set(fk, (f = { route: s.route, template: s.template, field, diffs: 0, noise: 0 }));
      if (fields.includes(field)) f.diffs++;
      if (noisy.includes(field)) f.noise++;
    }
    if (fields.length) {
      const signature = fields.slice(0, MAX_SIGNATURE_FIELDS);
      const sk = signatureKey(s.route, s.template, signature);
      const sg = d.signatures.get(sk);
      if (sg) sg.count++;
      else d.signatures.set(sk, { route: s.route, template: s.template, fields: signature, count: 1 });
    }
    for (const side of ['monolith', 'service'] as const) {
      const leMs = bucketOf(s[side].ms);
      const lk = latencyKey(s.route, s.template, side, leMs);
      const l = d.latency.get(lk);
      if (l) l.count++;
      else d.latency.set(lk, { route: s.route, template: s.template, side, leMs, count: 1 });
    }

    const m = this.#o.metrics;
    m.shadowResults.add(s.route, s.stale ? 'stale' : fields.length ? 'mismatch' : 'match');
    for (const field of fields) m.shadowFieldDifferences.inc({ route: s.route, field });
    if (s.noise) m.shadowNoise.inc({ route: s.route, result: noisy.length ? 'differs' : 'same' });

    // A few examples per route and field in each window, not in the process's life: the stored ones
    // are replaced by newer ones as they come, and are still there after the old are pruned.
    const window = Math.floor(this.#o.now() / this.#o.examplesWindowMs);
    if (window !== this.#examplesWindow) {
      this.#examplesWindow = window;
      this.#examplesSent.clear();
    }
    for (const field of fields.slice(0, 3)) {
      const key = `${s.route}\u0000${field}`;
      const sent = this.#examplesSent.get(key) ?? 0;
      if (sent >= this.#o.examplesPerField) continue;
      const example = s.example(field);
      if (!example) continue;
      this.#examplesSent.set(key, sent + 1);
      this.#pendingExamples.push({ ...example, template: s.template });
    }
  }

  /** The template as counted: at most MAX_TEMPLATE_CHARS long, and past the per-route bound, "(other)". */
  #template(route: string, template: string): string {
    const t = template.slice(0, MAX_TEMPLATE_CHARS);
    let seen = this.#templatesSeen.get(route);
    if (!seen) this.#templatesSeen.set(route, (seen = new Set()));
    if (seen.has(t)) return t;
    if (seen.size >= MAX_TEMPLATES_PER_ROUTE) return '(other)';
    seen.add(t);
    return t;
  }

  /** Distinct fields of the differences, with fields past the per-route bound (or too long to be a key) folded into "(other)". */
  #bounded(route: string, differences: readonly FieldDifference[]): string[] {
    if (!differences.length) return [];
    let seen = this.#fieldsSeen.get(route);
    if (!seen) this.#fieldsSeen.set(route, (seen = new Set()));
    const out = new Set<string>();
    for (const d of differences) {
      if (d.field.length > MAX_FIELD_CHARS || (!seen.has(d.field) && seen.size >= MAX_FIELDS_PER_ROUTE)) out.add('(other)');
      else {
        seen.add(d.field);
        out.add(d.field);
      }
    }
    return [...out].sort();
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.flush(), this.#o.flushMs).unref();
  }

  /** Adds what was recorded since the last flush to the store (one flush at a time). */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flushOnce());
    return this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    const delta = countersOf(this.#delta);
    const examples = this.#pendingExamples;
    this.#delta = newCounterMaps();
    this.#pendingExamples = [];
    const stored = { counters: false, examples: false };
    try {
      if (delta.routes.length) this.#dropped(await this.store.add(new Date(this.#o.now()), delta));
      stored.counters = true;
      if (examples.length) this.#dropped(await this.store.addExamples(examples, this.#o.examplesPerField));
      stored.examples = true;
      if (++this.#flushes % 10 === 1) await this.#refreshReadiness();
      if (this.#flushes % 3600 === 1) await this.store.prune(new Date(this.#o.now() - this.#o.retentionMs));
    } catch (err) {
      // What was not stored is kept for the next flush rather than lost (the store may be back by
      // then); what was is not added again, or it would count twice.
      if (!stored.counters) addCounters(this.#delta, delta);
      if (!stored.examples) this.#pendingExamples.unshift(...examples.slice(0, 50));
      this.#o.log.error({ error: (err as Error).message }, 'shadow results could not be stored; retrying');
    }
  }

  /** Counts the rows the store left out; says so in the log the first time for each table and cause, never with the values. */
  #dropped(rows: readonly DroppedRow[]): void {
    for (const { table, code } of rows) {
      this.#o.metrics.shadowRowsDropped.inc({ table });
      if (this.#dropsLogged.has(`${table} ${code}`)) continue;
      this.#dropsLogged.add(`${table} ${code}`);
      this.#o.log.warn(
        { table, sqlstate: code },
        'shadow result rows dropped: the store refused them (counted in strangler_shadow_rows_dropped_total)',
      );
    }
  }

  async #refreshReadiness(): Promise<void> {
    const report = buildReport(await this.store.counters({}), this.#o.settingsOf);
    for (const r of report) this.#o.metrics.shadowReadiness.set({ route: r.route }, r.readiness.score);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}
