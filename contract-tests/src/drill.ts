import { performance } from 'node:perf_hooks';
import { pendingBySide, switchWriter, type Side, type SwitchResult } from '@strangler/data';
import type { ServiceName } from '@strangler/reference-migration';
import type { TestResponse } from '@strangler/stack/testing';
import type { System } from './system.ts';

/** One logical write: what a client sends, again after a 503, until it gets a definite answer. */
export type Write = (worker: number, seq: number) => Promise<TestResponse>;

export interface DrillOptions {
  system: System;
  service: ServiceName;
  /** Successful writes wanted in all. */
  writes: number;
  /** Clients writing at once. */
  concurrency: number;
  /** Switch the writer (monolith → service → monolith …) once this many writes have succeeded. */
  switchAt: readonly number[];
  write: Write;
  /** Told of each write's final answer (a 2xx), to check later that it was neither lost nor doubled. */
  onSuccess?: (worker: number, seq: number, res: TestResponse) => void;
}

export interface DrillReport {
  service: ServiceName;
  /** Writes answered 2xx. */
  writes: number;
  /** Requests sent, retries included. */
  requests: number;
  /** 503s answered (the freeze, or a dependency frozen), each retried after its Retry-After. */
  retried503: number;
  /** Answers that were neither 2xx nor 503: each one is a failed drill. */
  failures: string[];
  switches: Pick<SwitchResult, 'from' | 'to' | 'outcome' | 'frozenMs' | 'failedStep' | 'error' | 'steps'>[];
  /** How long each switch kept the writes frozen, ms. */
  frozenMs: number[];
  /** Extra time the writes that met a freeze took, first attempt to success, ms (p50, p99, max). */
  delayedWrites: { count: number; p50: number; p99: number; max: number };
  /** Replication lag sampled every 50 ms while writing: the oldest pending change's age, s. */
  lagSeconds: { p50: number; p99: number; max: number };
  writesPerSecond: number;
}

const percentile = (sorted: number[], p: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0;
const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * A rollback drill: `concurrency` clients write through the proxy until `writes` have succeeded,
 * while the service's writer is switched monolith → service → monolith by the state machine at
 * each mark of `switchAt`. A client that gets a 503 waits its Retry-After and sends the same write
 * again; any other failure is recorded. Replication lag is sampled throughout.
 */
export async function runDrill(o: DrillOptions): Promise<DrillReport> {
  const report: DrillReport = {
    service: o.service,
    writes: 0,
    requests: 0,
    retried503: 0,
    failures: [],
    switches: [],
    frozenMs: [],
    delayedWrites: { count: 0, p50: 0, p99: 0, max: 0 },
    lagSeconds: { p50: 0, p99: 0, max: 0 },
    writesPerSecond: 0,
  };
  const delays: number[] = [];
  const lags: number[] = [];
  let nextSeq = 0;
  let writing = true;
  const started = performance.now();

  const worker = async (w: number): Promise<void> => {
    while (nextSeq < o.writes && report.failures.length < 20) {
      const seq = nextSeq++;
      const t0 = performance.now();
      let met503 = false;
      for (;;) {
        report.requests++;
        let res: TestResponse;
        try {
          res = await o.write(w, seq);
        } catch (err) {
          report.failures.push(`write ${seq}: ${(err as Error).message}`);
          break;
        }
        if (res.status >= 200 && res.status < 300) {
          report.writes++;
          if (met503) delays.push(performance.now() - t0);
          o.onSuccess?.(w, seq, res);
          break;
        }
        if (res.status === 503) {
          met503 = true;
          report.retried503++;
          await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? '1') * 1000));
          continue;
        }
        report.failures.push(`write ${seq}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
        break;
      }
    }
  };

  const switcher = async (): Promise<void> => {
    let to: Side = 'service';
    for (const mark of o.switchAt) {
      while (report.writes < mark && writing) await new Promise((r) => setTimeout(r, 10));
      if (!writing) return;
      const r = await switchWriter({
        data: o.system.data[o.service],
        to,
        routesFile: o.system.routesFile,
        proxies: [o.system.admin],
        actor: 'rollback-drill',
        reason: `drill: ${to === 'service' ? 'cut over' : 'roll back'} after ${mark} writes`,
      });
      report.switches.push({
        from: r.from,
        to: r.to,
        outcome: r.outcome,
        frozenMs: r.frozenMs,
        failedStep: r.failedStep,
        error: r.error,
        steps: r.steps,
      });
      if (r.frozenMs !== undefined) report.frozenMs.push(r.frozenMs);
      to = to === 'service' ? 'monolith' : 'service';
    }
  };

  const sampler = async (): Promise<void> => {
    while (writing) {
      const p = await pendingBySide(o.system.data[o.service]);
      lags.push(Math.max(p.monolith.oldestSeconds, p.service.oldestSeconds));
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const sampling = sampler();
  const switching = switcher();
  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  writing = false;
  await Promise.all([switching, sampling]);

  report.writesPerSecond = Math.round(report.writes / ((performance.now() - started) / 1000));
  const d = delays.sort((a, b) => a - b);
  report.delayedWrites = {
    count: d.length,
    p50: round(percentile(d, 50), 0),
    p99: round(percentile(d, 99), 0),
    max: round(d.at(-1) ?? 0, 0),
  };
  const l = lags.sort((a, b) => a - b);
  report.lagSeconds = { p50: round(percentile(l, 50), 3), p99: round(percentile(l, 99), 3), max: round(l.at(-1) ?? 0, 3) };
  return report;
}

/** The figures a closing note quotes, on one line. */
export function summary(r: DrillReport, extra: Record<string, unknown> = {}): string {
  return `drill ${r.service}: ${JSON.stringify({
    writes: r.writes,
    requests: r.requests,
    retried503: r.retried503,
    failures: r.failures.length,
    switches: r.switches.map((s) => `${s.from}→${s.to} ${s.outcome}`),
    frozenMs: r.frozenMs,
    delayedWritesMs: r.delayedWrites,
    lagSeconds: r.lagSeconds,
    writesPerSecond: r.writesPerSecond,
    ...extra,
  })}`;
}
