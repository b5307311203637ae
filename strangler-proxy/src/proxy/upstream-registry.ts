import { Pool } from 'undici';
import type { UpstreamSpec } from '../config/route-table-schema.ts';
import type { ProxyMetrics } from '../metrics/metrics.ts';
import type { RouteTable } from '../routing/route-table.ts';
import { CircuitBreaker, type BreakerState } from '../resilience/circuit-breaker.ts';

export interface Upstream {
  name: string;
  url: URL;
  spec: UpstreamSpec;
  /** Keep-alive connections to this upstream, reused across requests. */
  pool: Pool;
  breaker: CircuitBreaker;
  /**
   * The breaker of shadow copies sent to this upstream, apart from its live traffic's: copies that
   * get no answer (stricter timeouts, a service not yet serving) must not move live requests, and a
   * target that stopped answering stops being sent copies — each would cost the proxy a connection
   * attempt or a held socket — until one probe gets an answer.
   */
  mirrorBreaker: CircuitBreaker;
}

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * The upstreams of the table in force, with their connection pools and breakers (live and shadow). A reload keeps
 * the pool and breaker of an upstream whose settings did not change (its statistics carry on);
 * a changed or removed one is retired once requests still using it have had time to finish.
 */
export class UpstreamRegistry {
  readonly #upstreams = new Map<string, Upstream>();
  readonly #metrics: ProxyMetrics;

  constructor(metrics: ProxyMetrics) {
    this.#metrics = metrics;
  }

  get(name: string): Upstream {
    const u = this.#upstreams.get(name);
    if (!u) throw new Error(`no upstream named ${name}`);
    return u;
  }

  /** The upstream named, or undefined when a reload has retired it since the caller's table was read. */
  find(name: string): Upstream | undefined {
    return this.#upstreams.get(name);
  }

  all(): Upstream[] {
    return [...this.#upstreams.values()];
  }

  sync(table: RouteTable): void {
    const retired: Upstream[] = [];
    for (const [name, existing] of this.#upstreams) {
      const spec = table.upstreams.get(name);
      if (!spec || JSON.stringify(spec) !== JSON.stringify(existing.spec)) {
        this.#upstreams.delete(name);
        retired.push(existing);
      }
    }
    for (const [name, spec] of table.upstreams) {
      if (this.#upstreams.has(name)) continue;
      const breaker = this.#breaker(name, spec, this.#metrics.breakerState);
      const mirrorBreaker = this.#breaker(name, spec, this.#metrics.shadowBreakerState);
      const url = new URL(spec.url);
      this.#upstreams.set(name, {
        name,
        url,
        spec,
        pool: new Pool(url.origin, {
          connections: spec.maxSockets,
          connect: { timeout: spec.connectTimeoutMs },
          // The attempt's own timer bounds the wait for the head, queueing included.
          headersTimeout: 0,
          // Idle connections are kept as long as the app's Keep-Alive hint says it keeps them
          // (undici closes each a moment before the app would), 4 s for an app that gives none.
        }),
        breaker,
        mirrorBreaker,
      });
    }
    if (retired.length) setTimeout(() => retired.forEach(close), 60_000).unref();
  }

  #breaker(name: string, spec: UpstreamSpec, gauge: ProxyMetrics['breakerState']): CircuitBreaker {
    const breaker = new CircuitBreaker(name, spec.breaker);
    breaker.onStateChange((state) => gauge.set({ upstream: name }, STATE_VALUE[state]));
    gauge.set({ upstream: name }, 0);
    return breaker;
  }

  close(): void {
    this.#upstreams.forEach(close);
    this.#upstreams.clear();
  }
}

function close(u: Upstream): void {
  u.breaker.shutdown();
  u.mirrorBreaker.shutdown();
  void u.pool.destroy();
}
