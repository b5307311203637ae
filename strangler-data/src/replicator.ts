import type { Logger } from 'pino';
import type { SyncMetrics } from './sync-metrics.ts';
import { describeChange, listDeadLetters, listFailing, type DeadLetterPolicy } from './dead-letters.ts';
import { drain, pendingBySide, tablesOn, type ServiceData } from './replicate.ts';
import { SIDES } from './table-mapping.ts';
import { watermarkOf, Watermarks } from './watermark.ts';

export interface ReplicatorOptions {
  /** Pause between rounds when there was nothing to copy, ms (default 100). */
  intervalMs?: number;
  /** Changes per batch (default 500). */
  batchSize?: number;
  /** Batches per service per round, so one busy service cannot starve the others (default 20). */
  maxBatchesPerRound?: number;
  /** When a change the other side keeps refusing becomes a dead letter (default: failed 3 rounds in a row, the first 10 s ago). */
  deadLetter?: DeadLetterPolicy;
  metrics?: SyncMetrics;
  log: Logger;
}

/**
 * Keeps each service's two databases in step: every round drains the changes captured on the
 * writer's side into the other (and any strays the other way), then publishes the lag. A failing
 * round (a database away) is logged, counted and retried, backing off from the interval to 5 s:
 * nothing leaves the outbox until it has been applied or set aside. A change the other side refuses
 * (a row whose parent has not arrived yet, a secondary unique key) does not fail the round: it is
 * retried while the others go past it, and becomes a dead letter if it keeps failing.
 */
export class Replicator {
  readonly #services: readonly ServiceData[];
  readonly #opts: Required<Omit<ReplicatorOptions, 'metrics' | 'deadLetter'>> & {
    metrics: SyncMetrics | undefined;
    deadLetter?: DeadLetterPolicy;
  };
  #running: Promise<void> | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;
  #again = false;
  #rounds = 0;
  /** Per service: failed rounds in a row, and when to try again (backing off up to 5 s). */
  readonly #failing = new Map<string, { count: number; until: number }>();
  /** Per service: every change committed on its writer's side before this moment has been applied (`watermark.ts`). */
  readonly watermarks: Watermarks;

  constructor(services: readonly ServiceData[], opts: ReplicatorOptions) {
    this.#services = services;
    this.#opts = { intervalMs: 100, batchSize: 500, maxBatchesPerRound: 20, ...opts, metrics: opts.metrics };
    this.watermarks = new Watermarks(
      services.map((d) => d.mapping.service),
      (at) => this.#roundAfter(at),
    );
  }

  /** Rounds completed so far (every service visited once per round). */
  get rounds(): number {
    return this.#rounds;
  }

  start(): void {
    if (this.#running) return;
    this.#running = this.#loop();
  }

  /** Finishes the round in progress and stops. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.watermarks.close();
    this.#wake?.();
    await this.#running;
  }

  /** One round over every service; returns how many changes were applied. */
  async round(): Promise<number> {
    let total = 0;
    for (const data of this.#services) {
      const service = data.mapping.service;
      const failing = this.#failing.get(service);
      if (failing && Date.now() < failing.until) continue;
      try {
        const r = await drain(data, {
          batchSize: this.#opts.batchSize,
          maxBatches: this.#opts.maxBatchesPerRound,
          ...(this.#opts.deadLetter ? { deadLetter: this.#opts.deadLetter } : {}),
        });
        this.watermarks.advance(service, await watermarkOf(data.pools[r.state.writer], tablesOn(data, r.state.writer)));
        total += r.applied + r.strays;
        this.#opts.metrics?.applied.inc({ service }, r.applied);
        if (r.strays) {
          this.#opts.metrics?.strays.inc({ service }, r.strays);
          this.#opts.log.warn(
            { rowsOf: service, strays: r.strays, writer: r.state.writer },
            'applied changes made on the side that is not the writer',
          );
        }
        // A refused change no longer fails the round: the others went past it. Only codes and messages, never row values.
        for (const c of r.deadLettered)
          this.#opts.log.error(
            { rowsOf: service, deadLetter: c.id, change: describeChange(c) },
            'change set aside as a dead letter: see `strangler data dead-letters`',
          );
        const refused = r.failing.filter((c) => c.attempts === 1);
        if (refused.length)
          this.#opts.log.warn(
            { rowsOf: service, refused: refused.slice(0, 5).map(describeChange), count: refused.length },
            'changes refused by the other side; retrying them',
          );
        await this.#publish(data, r.state.writer);
        this.#failing.delete(service);
      } catch (err) {
        const count = (failing?.count ?? 0) + 1;
        this.#failing.set(service, { count, until: Date.now() + Math.min(5_000, this.#opts.intervalMs * 2 ** count) });
        this.#opts.metrics?.errors.inc({ service });
        // The server's message only: its detail field can quote row values (emails).
        const e = err as { code?: string; message?: string };
        this.#opts.log.error(
          { rowsOf: service, code: e.code, error: e.message, failedRounds: count },
          'replication round failed; retrying',
        );
      }
    }
    this.#rounds++;
    return total;
  }

  async #publish(data: ServiceData, writer: string): Promise<void> {
    const m = this.#opts.metrics;
    if (!m) return;
    const service = data.mapping.service;
    const pending = await pendingBySide(data);
    for (const side of SIDES) m.pending.set({ service, side }, pending[side].changes);
    m.lag.set({ service }, Math.max(pending.monolith.oldestSeconds, pending.service.oldestSeconds));
    for (const side of SIDES) m.writer.set({ service, writer: side }, side === writer ? 1 : 0);
    const [failing, dead] = await Promise.all([listFailing(data.pools.service, service), listDeadLetters(data.pools.service, service)]);
    m.failing.set({ service }, failing.length);
    m.deadLetters.set({ service }, dead.length);
  }

  /** Someone waits for the watermark to pass `at`: a round as soon as it is past, not after the pause (many callers, one round). */
  #roundAfter(at: number): void {
    const delay = at - Date.now();
    if (delay > 0) return void setTimeout(() => this.#roundAfter(at), delay).unref();
    this.#again = true;
    this.#wake?.();
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      this.#again = false;
      const applied = await this.round();
      // Busy, or a watermark awaited: go again at once. Idle: wait, unless stopped.
      if (applied === 0 && !this.#stopped && !this.#again) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#opts.intervalMs);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }
}
