import { performance } from 'node:perf_hooks';
import { pendingBySide, switchWriter, type ServiceData, type Side, type SwitchResult } from '@strangler/data';
import type { ServiceName } from '@strangler/reference-migration';
import type { Actor, TestResponse } from '@strangler/stack/testing';
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
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** What writers through the proxy met: writes that succeeded, retries after 503s, and any other answer. */
export interface WriterStats {
  /** Writes answered 2xx. */
  writes: number;
  /** Requests sent, retries included. */
  requests: number;
  /** 503s answered (a freeze, or a dependency frozen), each retried after its Retry-After. */
  retried503: number;
  /** …by the error code each said (`writes_frozen`: the proxy's freeze; `service_unavailable`: an app's dependency). */
  retried503Codes: Record<string, number>;
  /** Answers that were neither 2xx nor 503, and errors: each one fails the test. */
  failures: string[];
  /** First attempt to success of each write that met a 503, ms, unsorted. */
  delaysMs: number[];
}

/**
 * `concurrency` clients writing through the proxy, each write numbered (`seq`) in order of start,
 * while `more(seq)` says so (and fewer than 20 failures). A client that gets a 503 waits its
 * Retry-After and sends the same write again until it gets a definite answer; any other answer is
 * a failure. With `paceMs`, each client starts a write at most every `paceMs` (a steady rate).
 */
export async function runWriters(o: {
  concurrency: number;
  write: Write;
  more: (seq: number) => boolean;
  onSuccess?: (worker: number, seq: number, res: TestResponse) => void;
  paceMs?: number;
}): Promise<WriterStats> {
  const stats: WriterStats = { writes: 0, requests: 0, retried503: 0, retried503Codes: {}, failures: [], delaysMs: [] };
  let nextSeq = 0;
  const worker = async (w: number): Promise<void> => {
    // Spread out, so a paced run's writes arrive evenly rather than in bursts.
    if (o.paceMs) await sleep((w * o.paceMs) / o.concurrency);
    while (o.more(nextSeq) && stats.failures.length < 20) {
      const seq = nextSeq++;
      const t0 = performance.now();
      let met503 = false;
      for (;;) {
        stats.requests++;
        let res: TestResponse;
        try {
          res = await o.write(w, seq);
        } catch (err) {
          stats.failures.push(`write ${seq}: ${(err as Error).message}`);
          break;
        }
        if (res.status >= 200 && res.status < 300) {
          stats.writes++;
          if (met503) stats.delaysMs.push(performance.now() - t0);
          o.onSuccess?.(w, seq, res);
          break;
        }
        if (res.status === 503) {
          met503 = true;
          stats.retried503++;
          const code = String((res.body as { error?: { code?: unknown } } | undefined)?.error?.code ?? 'none');
          stats.retried503Codes[code] = (stats.retried503Codes[code] ?? 0) + 1;
          await sleep(Number(res.headers.get('retry-after') ?? '1') * 1000);
          continue;
        }
        stats.failures.push(`write ${seq}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
        break;
      }
      if (o.paceMs) await sleep(o.paceMs - (performance.now() - t0));
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  return stats;
}

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
  const lags: number[] = [];
  let writing = true;
  // The switcher watches the writes as they succeed.
  const onSuccess: DrillOptions['onSuccess'] = (w, seq, res) => {
    report.writes++;
    o.onSuccess?.(w, seq, res);
  };
  const started = performance.now();

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
  const stats = await runWriters({ concurrency: o.concurrency, write: o.write, more: (seq) => seq < o.writes, onSuccess });
  writing = false;
  await Promise.all([switching, sampling]);

  Object.assign(report, { writes: stats.writes, requests: stats.requests, retried503: stats.retried503, failures: stats.failures });
  report.writesPerSecond = Math.round(report.writes / ((performance.now() - started) / 1000));
  const d = stats.delaysMs.sort((a, b) => a - b);
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

/** Keyed orders of one listing and cancels, by one buyer per worker, and what each 2xx answered: to check later that none was lost or doubled. */
export interface OrderLedger {
  write: Write;
  onSuccess: (worker: number, seq: number, res: TestResponse) => void;
  /** Each placed order by its Idempotency-Key. */
  placed: Map<string, { id: number; quantityKg: number }>;
  cancelled: Set<number>;
  /** Stock the orders not cancelled hold, kg. */
  heldKg(): number;
  /** The buyers' user ids: every order they have is one of the ledger's. */
  buyerIds: number[];
}

/**
 * Orders with an Idempotency-Key (`keyPrefix` + seq, the same on a retry), and every fifth write
 * cancels the worker's previous order: both reserve or release stock through the proxy.
 */
export function orderLedger(buyers: readonly Actor[], listingId: number, keyPrefix: string): OrderLedger {
  const placed = new Map<string, { id: number; quantityKg: number }>();
  const cancelled = new Set<number>();
  const lastOrder: (number | undefined)[] = [];
  return {
    placed,
    cancelled,
    buyerIds: buyers.map((b) => b.user.id),
    write: (w, seq) => {
      const previous = lastOrder[w];
      if (seq % 5 === 4 && previous !== undefined && !cancelled.has(previous))
        return buyers[w]!.client.post(`/api/orders/${previous}/cancel`);
      return buyers[w]!.client.post(
        '/api/orders',
        { items: [{ listingId, quantityKg: 1 + (seq % 3) }] },
        { 'idempotency-key': `${keyPrefix}${seq}` },
      );
    },
    onSuccess: (w, seq, res) => {
      const order = res.body.order as { id: number; status: string; items: { quantityKg: number }[] };
      if (order.status === 'cancelled') cancelled.add(order.id);
      else {
        placed.set(`${keyPrefix}${seq}`, { id: order.id, quantityKg: order.items[0]!.quantityKg });
        lastOrder[w] = order.id;
      }
    },
    heldKg: () => [...placed.values()].filter((o) => !cancelled.has(o.id)).reduce((sum, o) => sum + o.quantityKg, 0),
  };
}

export interface LedgerCheck {
  /** Orders answered 2xx that the side does not hold under their key as the order answered. */
  lost: number;
  /** Orders beyond one per key, or under a key never answered 2xx. */
  duplicated: number;
  /** Orders whose cancelled status is not what the answers said. */
  cancelMismatch: number;
  /** The buyers' orders under no key that answered them: a write applied twice would be one. */
  unanswered: number;
}

/** The ledger against each side's orders and idempotency keys (monolith first, then the service). */
export async function checkLedger(data: ServiceData, ledger: OrderLedger, keyPrefix: string): Promise<[LedgerCheck, LedgerCheck]> {
  const check = async (side: Side): Promise<LedgerCheck> => {
    const buyerColumn = side === 'monolith' ? 'buyer_user_id' : 'buyer_id';
    const rows = (
      await data.pools[side].query(
        `SELECT o.id::int, o.status, k.key FROM orders o JOIN idempotency_keys k ON k.user_id = o.${buyerColumn} AND (k.response_body -> 'order' ->> 'id')::bigint = o.id
         WHERE starts_with(k.key, $1)`,
        [keyPrefix],
      )
    ).rows as { id: number; status: string; key: string }[];
    const byKey = new Map(rows.map((r) => [r.key, r]));
    const { rows: all } = await data.pools[side].query<{ n: number }>(
      `SELECT count(*)::int AS n FROM orders WHERE ${buyerColumn} = ANY($1::bigint[]) AND NOT (id = ANY($2::bigint[]))`,
      [ledger.buyerIds, rows.map((r) => r.id)],
    );
    return {
      lost: [...ledger.placed].filter(([key, o]) => byKey.get(key)?.id !== o.id).length,
      duplicated: rows.length - byKey.size + rows.filter((r) => !ledger.placed.has(r.key)).length,
      cancelMismatch: rows.filter((r) => (r.status === 'cancelled') !== ledger.cancelled.has(r.id)).length,
      unanswered: all[0]!.n,
    };
  };
  return [await check('monolith'), await check('service')];
}
