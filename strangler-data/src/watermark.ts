import type pg from 'pg';

/**
 * A service's watermark W (epoch ms, the replicator's clock): every change committed on the writer's
 * side before W has been applied to the other side. Read right after a drain: W is the moment just
 * before the outbox was looked at when nothing was pending (everything committed by then was visible
 * and is gone, so applied: keys leave the outbox only once copied), else just before the capture
 * time of the oldest change still pending (a change commits after it is captured, so whatever
 * committed earlier is no longer pending).
 *
 * Clocks: W mixes the replicator's clock with the writer database's (`captured_at`), and whoever
 * compares it with a moment of its own (the proxy: "when the monolith answered") uses a third. They
 * are one clock on one machine (`npm start`); in AWS, Amazon Time Sync (NTP) keeps them within about
 * a millisecond, and the proxy adds a margin (`SHADOW_CLOCK_MARGIN_MS`).
 */
export async function watermarkOf(writerDb: pg.Pool, tables: readonly string[]): Promise<number> {
  const before = Date.now();
  const { rows } = await writerDb.query<{ oldest: number | null }>(
    'SELECT (extract(epoch FROM min(captured_at)) * 1000)::float8 AS oldest FROM strangler_outbox WHERE table_name = ANY($1)',
    [tables],
  );
  const oldest = rows[0]!.oldest;
  return oldest === null ? before : Math.min(before, Math.floor(oldest) - 1);
}

/** The answer of `GET /watermark`. */
export interface WatermarkAnswer {
  service: string;
  /** The moment asked about, epoch ms. */
  at: number;
  /** The service's watermark, epoch ms (null before its first round). */
  watermark: number | null;
  /** Whether the watermark has passed `at`. */
  reached: boolean;
}

interface Waiter {
  at: number;
  done: (a: WatermarkAnswer) => void;
}

/** The longest a caller of `/watermark` may be kept waiting, ms. */
export const MAX_WATERMARK_WAIT_MS = 10_000;

/**
 * Each service's watermark, raised by the replicator after every round, and the callers waiting for
 * one to pass a moment (a long poll: answered as soon as it does, or when their wait is up).
 */
export class Watermarks {
  readonly #marks = new Map<string, number>();
  readonly #waiting = new Map<string, Set<Waiter>>();
  readonly services: ReadonlySet<string>;
  readonly #onWaiting: ((at: number) => void) | undefined;
  #closed = false;

  /** `onWaiting` hears of every caller left waiting, with its moment: the replicator starts a round once it has passed instead of pausing. */
  constructor(services: Iterable<string>, onWaiting?: (at: number) => void) {
    this.services = new Set(services);
    this.#onWaiting = onWaiting;
  }

  /** The service's watermark, epoch ms; undefined before its first round. */
  get(service: string): number | undefined {
    return this.#marks.get(service);
  }

  /** Raises the service's watermark (never lowers it) and answers whoever it now satisfies. */
  advance(service: string, watermark: number): void {
    if (watermark <= (this.#marks.get(service) ?? -Infinity)) return;
    this.#marks.set(service, watermark);
    for (const w of this.#waiting.get(service) ?? []) if (w.at <= watermark) w.done(this.#answer(service, w.at));
  }

  /** Answers once the service's watermark has passed `at`, or after `waitMs` with `reached: false`. */
  wait(service: string, at: number, waitMs: number): Promise<WatermarkAnswer> {
    const now = this.#answer(service, at);
    if (now.reached || waitMs <= 0 || this.#closed) return Promise.resolve(now);
    let waiting = this.#waiting.get(service);
    if (!waiting) this.#waiting.set(service, (waiting = new Set()));
    const set = waiting;
    return new Promise((resolve) => {
      const w: Waiter = {
        at,
        done: (a) => {
          clearTimeout(timer);
          set.delete(w);
          resolve(a);
        },
      };
      const timer = setTimeout(() => w.done(this.#answer(service, at)), Math.min(waitMs, MAX_WATERMARK_WAIT_MS));
      set.add(w);
      this.#onWaiting?.(at);
    });
  }

  /** Answers every caller still waiting, and any later one at once: the replicator is stopping. */
  close(): void {
    this.#closed = true;
    for (const [service, set] of this.#waiting) for (const w of set) w.done(this.#answer(service, w.at));
  }

  #answer(service: string, at: number): WatermarkAnswer {
    const watermark = this.#marks.get(service) ?? null;
    return { service, at, watermark, reached: watermark !== null && watermark >= at };
  }
}

/**
 * `GET /watermark?service=catalog&at=<epoch ms>&waitMs=1500`: the status and JSON body to answer,
 * once the watermark has passed `at` or `waitMs` is up (0 or absent: at once; at most 10 000).
 */
export async function watermarkRequest(marks: Watermarks, q: URLSearchParams): Promise<{ status: number; body: unknown }> {
  const service = q.get('service') ?? '';
  const at = Number(q.get('at'));
  const waitMs = q.has('waitMs') ? Number(q.get('waitMs')) : 0;
  const bad = (message: string) => ({ status: 400, body: { error: { code: 'bad_request', message } } });
  if (!service) return bad('Give service=<name>: the service whose copy of the data is asked about.');
  if (!q.has('at') || !Number.isFinite(at) || at < 0)
    return bad('Give at=<epoch milliseconds>: the moment every change before which must have been applied.');
  if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > MAX_WATERMARK_WAIT_MS)
    return bad(`waitMs must be a whole number of milliseconds from 0 to ${MAX_WATERMARK_WAIT_MS}.`);
  if (!marks.services.has(service)) {
    return {
      status: 404,
      body: {
        error: {
          code: 'not_found',
          message: `No service named ${service.slice(0, 64)} is replicated here; try ${[...marks.services].join(', ') || 'none'}.`,
        },
      },
    };
  }
  return { status: 200, body: await marks.wait(service, at, waitMs) };
}
