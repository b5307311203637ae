import type { Logger } from 'pino';
import type { ProxyConfig } from '../config/proxy-config.ts';
import type { RouteTables } from '../config/route-table-store.ts';
import type { ProxyMetrics } from '../metrics/metrics.ts';
import { MirrorDispatcher } from './mirror-dispatcher.ts';
import { ShadowRecorder } from './shadow-recorder.ts';
import { DEFAULT_SETTINGS, type RouteSettings } from './shadow-report.ts';
import { MemoryShadowStore, PostgresShadowStore, type ShadowStore } from './shadow-store.ts';

/** The shadow machinery of one proxy: where results go, how they are gathered, how copies are sent. */
export interface Shadowing {
  mirror: MirrorDispatcher;
  recorder: ShadowRecorder;
  results: ShadowStore;
  /** A route's noise thresholds and gate, from the route table in force. */
  settingsOf(route: string): RouteSettings;
  close(): Promise<void>;
}

/** Opens the results store (PostgreSQL when STRANGLER_DATABASE_URL is set, else memory) and starts recording. */
export async function startShadowing(
  config: ProxyConfig,
  deps: { routes: RouteTables; metrics: ProxyMetrics; log: Logger },
): Promise<Shadowing> {
  const s = config.shadow;
  const results = s.databaseUrl ? await PostgresShadowStore.open(s.databaseUrl) : new MemoryShadowStore();
  const settingsOf = (route: string): RouteSettings => {
    const shadow = deps.routes.current.routes.find((r) => r.name === route)?.shadow;
    return shadow ? { noise: { relative: shadow.noise.relative, absolute: shadow.noise.absolute }, gate: shadow.gate } : DEFAULT_SETTINGS;
  };
  const recorder = new ShadowRecorder({
    store: results,
    metrics: deps.metrics,
    log: deps.log,
    settingsOf,
    examplesPerField: s.examplesPerField,
    retentionMs: s.retentionDays * 24 * 3600_000,
  });
  recorder.start();
  const mirror = new MirrorDispatcher({
    recorder,
    metrics: deps.metrics,
    limits: { maxInFlight: s.maxInFlight, maxBodyBytes: s.maxBodyBytes },
    workers: s.workers,
    redactKeys: s.redactKeys,
    redactValues: s.redactValues,
    sync: s.syncStatusUrl ? { statusUrl: s.syncStatusUrl, clockMarginMs: s.clockMarginMs } : undefined,
    log: deps.log,
  });
  await mirror.ready;
  return {
    mirror,
    recorder,
    results,
    settingsOf,
    async close() {
      await mirror.close();
      await recorder.stop();
      await results.close();
    },
  };
}
