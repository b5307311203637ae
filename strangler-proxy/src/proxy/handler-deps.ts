import type { Logger } from 'pino';
import type { ProxyConfig } from '../config/proxy-config.ts';
import type { RouteTables } from '../config/route-table-store.ts';
import type { ProxyMetrics } from '../metrics/metrics.ts';
import type { ByteBudget } from '../resilience/byte-budget.ts';
import type { ConcurrencyLimit } from '../resilience/concurrency-limit.ts';
import type { DryRunMarks } from '../shadow/dry-run-mark.ts';
import type { MirrorDispatcher } from '../shadow/mirror-dispatcher.ts';
import type { IdempotencyGuard } from './idempotency-guard.ts';
import type { InFlightWrites } from './in-flight-writes.ts';
import type { UpstreamRegistry } from './upstream-registry.ts';

/** What the public listener's handlers share for the life of the process. */
export interface HandlerDeps {
  config: ProxyConfig;
  store: RouteTables;
  upstreams: UpstreamRegistry;
  metrics: ProxyMetrics;
  fallbackLimit: ConcurrencyLimit;
  /** Bytes of request bodies the proxy may hold at once, all requests together. */
  bodyBudget: ByteBudget;
  idempotency: IdempotencyGuard;
  /** Writes in flight, by the table version that routed them (what a writer switch waits for). */
  inFlightWrites: InFlightWrites;
  /** Issues the dry-run marks of mirrored requests. */
  dryRunMarks: DryRunMarks;
  /** Whether a dry-run header on a request (an app's internal call for a mirrored write) may be passed on; counts the ones refused. */
  keepDryRun: (value: string) => boolean;
  /** Mirrors shadowed routes' requests; absent when no store for the results was set up. */
  shadow: MirrorDispatcher | undefined;
  log: Logger;
  /** True once shutdown has begun: new requests get 503. */
  draining: () => boolean;
}
