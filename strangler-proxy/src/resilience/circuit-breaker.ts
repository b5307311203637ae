import type { BreakerSpec } from '../config/route-table-schema.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** How an admitted call ended, for the breaker's count. */
export type CallOutcome = 'success' | 'failure' | 'not_counted';

/** The breaker's answer to "may I call?": a permit to report the outcome on, or how long until it may. */
export type Admission = { admitted: true; done(outcome: CallOutcome): void } | { admitted: false; retryAfterMs: number };

/** Statistics buckets in the rolling window. */
const BUCKETS = 10;

interface Bucket {
  /** Start of the bucket's slice of time, epoch ms. */
  start: number;
  calls: number;
  failures: number;
}

/**
 * A circuit breaker per upstream. The caller asks before each call (`admit`) and reports how it
 * ended on the permit, so a 5xx answer counts as a failure without being thrown and caught, and a
 * client that went away (`not_counted`) is nobody's failure. Closed: calls pass, outcomes fill a
 * rolling window of `rollingWindowMs` in ten buckets; once at least `volumeThreshold` calls are in
 * it and `errorThresholdPercentage` of them failed, it opens. Open: refused for `resetTimeoutMs`,
 * then half-open: exactly one probe passes; its success closes the breaker with a fresh window, its
 * failure opens it again. It has no timeout of its own: the caller bounds and aborts its own call.
 */
export class CircuitBreaker {
  readonly upstream: string;
  readonly #spec: BreakerSpec;
  readonly #now: () => number;
  #state: BreakerState = 'closed';
  #openedAt = 0;
  #probeOut = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #buckets: Bucket[] = [];
  readonly #listeners = new Set<(state: BreakerState) => void>();

  /** `now` is injectable for tests of the window. */
  constructor(upstream: string, spec: BreakerSpec, now: () => number = Date.now) {
    this.upstream = upstream;
    this.#spec = spec;
    this.#now = now;
  }

  get state(): BreakerState {
    return this.#state;
  }

  admit(): Admission {
    if (this.#state === 'open' || (this.#state === 'half-open' && this.#probeOut)) {
      return { admitted: false, retryAfterMs: Math.max(0, this.#openedAt + this.#spec.resetTimeoutMs - this.#now()) };
    }
    const probe = this.#state === 'half-open';
    if (probe) this.#probeOut = true;
    let reported = false;
    return {
      admitted: true,
      done: (outcome) => {
        if (reported) return;
        reported = true;
        if (probe) this.#probeEnded(outcome);
        else if (outcome !== 'not_counted' && this.#state === 'closed') this.#count(outcome === 'failure');
      },
    };
  }

  onStateChange(listener: (state: BreakerState) => void): void {
    this.#listeners.add(listener);
  }

  /** Stops its timer; the breaker must not be used afterwards. */
  shutdown(): void {
    clearTimeout(this.#timer);
  }

  #count(failed: boolean): void {
    const now = this.#now();
    const width = this.#spec.rollingWindowMs / BUCKETS;
    const start = now - (now % width);
    let bucket = this.#buckets.at(-1);
    if (!bucket || bucket.start !== start) this.#buckets.push((bucket = { start, calls: 0, failures: 0 }));
    while (this.#buckets[0]!.start <= now - this.#spec.rollingWindowMs) this.#buckets.shift();
    bucket.calls++;
    if (failed) bucket.failures++;
    if (!failed) return;
    let calls = 0;
    let failures = 0;
    for (const b of this.#buckets) {
      calls += b.calls;
      failures += b.failures;
    }
    if (calls >= this.#spec.volumeThreshold && (failures * 100) / calls >= this.#spec.errorThresholdPercentage) this.#open();
  }

  #probeEnded(outcome: CallOutcome): void {
    this.#probeOut = false;
    if (outcome === 'failure') return this.#open();
    if (outcome === 'success') {
      this.#buckets.length = 0;
      this.#set('closed');
    }
  }

  #open(): void {
    this.#openedAt = this.#now();
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#set('half-open'), this.#spec.resetTimeoutMs);
    this.#timer.unref();
    this.#set('open');
  }

  #set(state: BreakerState): void {
    this.#state = state;
    for (const l of this.#listeners) l(state);
  }
}
