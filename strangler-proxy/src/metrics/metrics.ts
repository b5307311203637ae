import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { PlainHistogram, type HistogramSeries } from './plain-histogram.ts';

const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

/** A count kept in a plain field for one label set of a prom-client counter. */
interface PlainCount<L extends string> {
  labels: Record<L, string>;
  n: number;
}

type RequestCount = PlainCount<'route' | 'target' | 'mode' | 'status_class'>;

/** Adds the counts gathered since the last scrape to `counter`, and starts them again from 0. */
function handOver<L extends string>(counter: Counter<L>, counts: readonly PlainCount<L>[]): void {
  for (const c of counts) {
    if (c.n === 0) continue;
    counter.inc(c.labels, c.n);
    c.n = 0;
  }
}

/** A route and target's duration series, and its request counts by mode, then by status / 100. */
interface RouteTarget {
  series: HistogramSeries<'route' | 'target'>;
  byMode: Map<string, RequestCount[]>;
}

/**
 * Counts by route and one more label, kept in plain fields where they happen and handed to their
 * prom-client counter when it is scraped (see `requests`): a shadow result updates a few of them.
 */
class RouteCounts<K extends string> {
  readonly #byRoute = new Map<string, Map<string, PlainCount<'route' | K>>>();
  readonly #all: PlainCount<'route' | K>[] = [];
  readonly #key: K;

  constructor(key: K) {
    this.#key = key;
  }

  add(route: string, value: string): void {
    let byValue = this.#byRoute.get(route);
    if (!byValue) this.#byRoute.set(route, (byValue = new Map()));
    let c = byValue.get(value);
    if (!c) {
      byValue.set(value, (c = { labels: { route, [this.#key]: value } as Record<'route' | K, string>, n: 0 }));
      this.#all.push(c);
    }
    c.n++;
  }

  handTo(counter: Counter<'route' | K>): void {
    handOver(counter, this.#all);
  }
}

/**
 * The proxy's metrics on a registry of its own (never prom-client's global one). Labels are route
 * and upstream names from the route table, never raw paths, so cardinality stays bounded.
 */
export class ProxyMetrics {
  readonly registry = new Registry();
  // Counted in plain fields on the request path and handed to prom-client when scraped: its own
  // inc() validates and hashes the labels on every call, even through a cached child.
  #inFlight = 0;
  readonly #requestCounts: RequestCount[] = [];
  readonly requests: Counter<'route' | 'target' | 'mode' | 'status_class'> = new Counter({
    name: 'strangler_requests_total',
    help: 'Requests answered, by route, target upstream, mode and status class.',
    labelNames: ['route', 'target', 'mode', 'status_class'] as const,
    registers: [this.registry],
    collect: (): void => handOver(this.requests, this.#requestCounts),
  });
  readonly duration = new PlainHistogram(
    'strangler_request_duration_seconds',
    'Time from request received to response finished, by route and target.',
    ['route', 'target'],
    // Fine enough between 50 ms and 1 s that a cutover can tell a p99 200 ms worse from noise.
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10],
  );
  readonly upstreamErrors = new Counter({
    name: 'strangler_upstream_errors_total',
    help: 'Failed attempts at an upstream, by upstream and cause.',
    labelNames: ['upstream', 'cause'] as const,
    registers: [this.registry],
  });
  readonly breakerState = new Gauge({
    name: 'strangler_breaker_state',
    help: 'Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });
  readonly fallbacks = new Counter({
    name: 'strangler_fallbacks_total',
    help: 'Requests sent to the fallback upstream after their target failed, by route, from-upstream and outcome.',
    labelNames: ['route', 'from', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'strangler_rejected_requests_total',
    help: 'Requests the proxy refused itself, by reason (its error code).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly dryRunRefused = new Counter({
    name: 'strangler_dry_run_marks_refused_total',
    help: 'Requests carrying a dry-run header the proxy did not issue (dropped: the write is real).',
    registers: [this.registry],
  });
  readonly previewIgnored = new Counter({
    name: 'strangler_preview_ignored_total',
    help: 'Requests carrying a preview header without a valid admin token (routed as usual).',
    registers: [this.registry],
  });
  readonly configInfo = new Gauge({
    name: 'strangler_config_info',
    help: 'The route table in force: 1 for its version and hash.',
    labelNames: ['version', 'hash'] as const,
    registers: [this.registry],
  });
  readonly configVersion = new Gauge({
    name: 'strangler_config_version',
    help: 'The version of the route table in force: the shared store’s revision when the table comes from one.',
    registers: [this.registry],
  });
  #tableStale: () => boolean = () => false;
  readonly configStale: Gauge = new Gauge({
    name: 'strangler_config_stale',
    help: '1 while the route table’s source cannot be asked, so the table served (the last good one) may be behind it; else 0.',
    registers: [this.registry],
    collect: (): void => this.configStale.set(this.#tableStale() ? 1 : 0),
  });
  readonly reloads = new Counter({
    name: 'strangler_config_reloads_total',
    help: 'Route table reloads, by result.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly inFlight: Gauge = new Gauge({
    name: 'strangler_requests_in_flight',
    help: 'Requests being handled now.',
    registers: [this.registry],
    collect: (): void => this.inFlight.set(this.#inFlight),
  });

  /** Mirrors' outcomes as their results arrive (`shadowRequests`), in plain fields. */
  readonly shadowOutcomes = new RouteCounts('outcome');
  readonly shadowRequests: Counter<'route' | 'outcome'> = new Counter({
    name: 'strangler_shadow_requests_total',
    help: 'Shadow mirrors by route and outcome: mirrored, dropped (queue_full, body_too_large, target_down: its shadow breaker open), failed (the target did not answer).',
    labelNames: ['route', 'outcome'] as const,
    registers: [this.registry],
    collect: (): void => this.shadowOutcomes.handTo(this.shadowRequests),
  });
  readonly shadowBreakerState = new Gauge({
    name: 'strangler_shadow_breaker_state',
    help: 'Circuit breaker of the shadow copies sent to an upstream (apart from its live traffic): 0 closed, 1 half-open, 2 open (copies to it dropped as target_down).',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });
  /** Comparisons' results (`shadowComparisons`), in plain fields. */
  readonly shadowResults = new RouteCounts('result');
  readonly shadowComparisons: Counter<'route' | 'result'> = new Counter({
    name: 'strangler_shadow_comparisons_total',
    help: 'Mirrored answers compared with the monolith’s, by route and result (match, mismatch).',
    labelNames: ['route', 'result'] as const,
    registers: [this.registry],
    collect: (): void => this.shadowResults.handTo(this.shadowComparisons),
  });
  readonly shadowFieldDifferences = new Counter({
    name: 'strangler_shadow_field_differences_total',
    help: 'Differences service vs monolith, by route and field path (indexes folded; at most 100 fields per route, then "(other)").',
    labelNames: ['route', 'field'] as const,
    registers: [this.registry],
  });
  readonly shadowNoise = new Counter({
    name: 'strangler_shadow_noise_comparisons_total',
    help: 'Requests answered twice by the monolith to measure noise, by route and result (same, differs).',
    labelNames: ['route', 'result'] as const,
    registers: [this.registry],
  });
  readonly shadowCompareSeconds = new PlainHistogram(
    'strangler_shadow_compare_seconds',
    'Time to decode and compare the answers of one mirror, on the mirror worker (off the request path).',
    [],
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
  );
  readonly #compareSeries = this.shadowCompareSeconds.series({});
  /** What `strangler_shadow_in_flight` reads when scraped (the mirror dispatcher's count), rather than a gauge moved per mirror. */
  shadowInFlightNow: () => number = () => 0;
  readonly shadowInFlight: Gauge = new Gauge({
    name: 'strangler_shadow_in_flight',
    help: 'Mirrors being made: copies sent and not yet compared.',
    registers: [this.registry],
    collect: (): void => this.shadowInFlight.set(this.shadowInFlightNow()),
  });
  readonly shadowReadiness = new Gauge({
    name: 'strangler_shadow_readiness',
    help: 'Readiness score of a shadowed route, 0–100 (noise-adjusted match rate with its confidence bound, error and latency deltas).',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly shadowRowsDropped = new Counter({
    name: 'strangler_shadow_rows_dropped_total',
    help: 'Shadow result rows the store refused (too long to index, a byte PostgreSQL does not take) and left out, by table; the rest of their batch was stored.',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });

  constructor() {
    this.registry.registerMetric(this.duration as unknown as Metric);
    this.registry.registerMetric(this.shadowCompareSeconds as unknown as Metric);
    collectDefaultMetrics({ register: this.registry, prefix: 'strangler_process_' });
  }

  /**
   * Route → target → what a finished request there updates. Looked up by the route table's own
   * strings, whose hashes V8 keeps, rather than by a key joined from the labels per request (a new
   * string to hash each time).
   */
  readonly #routeTargets = new Map<string, Map<string, RouteTarget>>();

  /** A mirror's comparison time, seconds (`strangler_shadow_compare_seconds`). */
  observeCompare(seconds: number): void {
    this.shadowCompareSeconds.observe(this.#compareSeries, seconds);
  }

  /** Counts a finished request: the count in a plain field (see `requests`), the duration in its histogram series. */
  observeRequest(route: string, target: string, mode: string, status: number, seconds: number): void {
    let targets = this.#routeTargets.get(route);
    if (!targets) this.#routeTargets.set(route, (targets = new Map()));
    let at = targets.get(target);
    if (!at) targets.set(target, (at = { series: this.duration.series({ route, target }), byMode: new Map() }));
    let classes = at.byMode.get(mode);
    if (!classes) at.byMode.set(mode, (classes = []));
    const k = Math.floor(status / 100);
    let count = classes[k];
    if (!count) {
      count = { labels: { route, target, mode, status_class: STATUS_CLASSES[k] ?? `${k}xx` }, n: 0 };
      classes[k] = count;
      this.#requestCounts.push(count);
    }
    count.n++;
    this.duration.observe(at.series, seconds);
  }

  /** Counts a request in and returns the function that counts it out (once). */
  trackRequest(): () => void {
    this.#inFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#inFlight--;
    };
  }

  inFlightCount(): number {
    return this.#inFlight;
  }

  setConfig(version: number, hash: string): void {
    this.configInfo.reset();
    this.configInfo.set({ version: String(version), hash }, 1);
    this.configVersion.set(version);
  }

  /** Where `strangler_config_stale` is read from at each scrape. */
  watchTableStaleness(isStale: () => boolean): void {
    this.#tableStale = isStale;
  }
}
