/** One label set's counts: per bucket (the last is +Inf), their sum and their number. */
export interface HistogramSeries<L extends string> {
  readonly labels: Readonly<Record<L, string>>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** One exported sample, as prom-client's `get()` gives it. */
export interface HistogramValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A Prometheus histogram whose observations are plain arithmetic on a series the caller holds:
 * prom-client's own, even through a cached child, validates and hashes the label set on every
 * observation, which on the proxy's request path cost more than the rest of its metrics together.
 * Registered on a prom-client registry like any of its metrics (`registerMetric`): it answers
 * `get()` with the same values and names — `_bucket` (cumulative, with `le`), `_sum`, `_count` —
 * as a prom-client Histogram of the same name, labels and buckets would.
 */
export class PlainHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #upper: readonly number[];
  readonly #series = new Map<string, HistogramSeries<L>>();

  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];

  constructor(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    this.#upper = [...buckets].sort((a, b) => a - b);
  }

  /** The series of one label set, made on first use: hold it, and observe into it. */
  series(labels: Readonly<Record<L, string>>): HistogramSeries<L> {
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    let s = this.#series.get(key);
    if (!s) {
      s = { labels: { ...labels }, counts: new Float64Array(this.#upper.length + 1), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    return s;
  }

  observe(s: HistogramSeries<L>, value: number): void {
    let i = 0;
    while (i < this.#upper.length && value > this.#upper[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: HistogramValue[] }> {
    const values: HistogramValue[] = [];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      this.#upper.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** Zeroes every series, and keeps them: a caller may hold one. */
  reset(): void {
    for (const s of this.#series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
