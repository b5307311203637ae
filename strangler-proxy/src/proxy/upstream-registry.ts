import http from 'node:http';
import https from 'node:https';
import type { UpstreamSpec } from '../config/route-table-schema.ts';
import type { ProxyMetrics } from '../metrics/metrics.ts';
import type { RouteTable } from '../routing/route-table.ts';
import { CircuitBreaker, type BreakerState } from '../resilience/circuit-breaker.ts';

export interface Upstream {
  name: string;
  url: URL;
  spec: UpstreamSpec;
  /** Keep-alive connections to this upstream, reused across requests. */
  agent: http.Agent;
  breaker: CircuitBreaker;
}

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * The upstreams of the table in force, with their connection pools and breakers. A reload keeps
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
      const breaker = new CircuitBreaker(name, spec.breaker);
      breaker.onStateChange((state) => this.#metrics.breakerState.set({ upstream: name }, STATE_VALUE[state]));
      this.#metrics.breakerState.set({ upstream: name }, 0);
      this.#upstreams.set(name, {
        name,
        url: new URL(spec.url),
        spec,
        agent: new (spec.url.startsWith('https:') ? https.Agent : http.Agent)({
          keepAlive: true,
          maxSockets: spec.maxSockets,
          // Every connection a busy moment opened is kept for the next one (the app closes it when idle):
          // keeping only 64 of up to 256 made the proxy close and reopen connections under load.
          maxFreeSockets: spec.maxSockets,
          scheduling: 'lifo',
        }),
        breaker,
      });
    }
    if (retired.length) setTimeout(() => retired.forEach(close), 60_000).unref();
  }

  close(): void {
    this.#upstreams.forEach(close);
    this.#upstreams.clear();
  }
}

function close(u: Upstream): void {
  u.breaker.shutdown();
  u.agent.destroy();
}
