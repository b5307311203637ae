import OpossumBreaker from 'opossum';
import type { BreakerSpec } from '../config/route-table-schema.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** Thrown by `run` when the breaker is open (or half-open with its one probe already out). */
export class BreakerOpenError extends Error {
  override readonly name = 'BreakerOpenError';
  readonly retryAfterMs: number;
  constructor(upstream: string, retryAfterMs: number) {
    super(`circuit breaker of ${upstream} is open`);
    this.retryAfterMs = retryAfterMs;
  }
}

/** A failure the breaker should not count against the upstream (the client went away, say). */
export class NotCountedError extends Error {
  override readonly name = 'NotCountedError';
}

/**
 * A circuit breaker per upstream, on opossum, behind the small interface the proxy needs. opossum's
 * own timeout is off: it would let the timed-out call run on, and its abort signal is shared by the
 * whole breaker. The caller enforces its own timeout, aborts its own request, and reports the
 * outcome here. Half-open lets exactly one probe through (opossum's pending-close flag).
 */
export class CircuitBreaker {
  readonly upstream: string;
  readonly #breaker: OpossumBreaker<[() => Promise<unknown>], unknown>;
  readonly #resetTimeoutMs: number;
  #openedAt = 0;
  readonly #listeners = new Set<(state: BreakerState) => void>();

  constructor(upstream: string, spec: BreakerSpec) {
    this.upstream = upstream;
    this.#resetTimeoutMs = spec.resetTimeoutMs;
    this.#breaker = new OpossumBreaker((fn: () => Promise<unknown>) => fn(), {
      timeout: false,
      errorThresholdPercentage: spec.errorThresholdPercentage,
      volumeThreshold: spec.volumeThreshold,
      resetTimeout: spec.resetTimeoutMs,
      rollingCountTimeout: spec.rollingWindowMs,
      rollingCountBuckets: 10,
      errorFilter: (err: unknown) => err instanceof NotCountedError,
    });
    this.#breaker.on('open', () => {
      this.#openedAt = Date.now();
      this.#emit();
    });
    this.#breaker.on('halfOpen', () => this.#emit());
    this.#breaker.on('close', () => this.#emit());
  }

  get state(): BreakerState {
    if (this.#breaker.opened) return 'open';
    if (this.#breaker.halfOpen) return 'half-open';
    return 'closed';
  }

  /** Runs `fn` unless the breaker is open; a rejection counts as a failure (unless NotCountedError). */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return (await this.#breaker.fire(fn)) as T;
    } catch (err) {
      if ((err as { code?: string }).code === 'EOPENBREAKER') {
        throw new BreakerOpenError(this.upstream, Math.max(0, this.#openedAt + this.#resetTimeoutMs - Date.now()));
      }
      throw err;
    }
  }

  onStateChange(listener: (state: BreakerState) => void): void {
    this.#listeners.add(listener);
  }

  /** Stops its timers; the breaker must not be used afterwards. */
  shutdown(): void {
    this.#breaker.shutdown();
  }

  #emit(): void {
    for (const l of this.#listeners) l(this.state);
  }
}
