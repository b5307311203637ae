import type http from 'node:http';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { ProxyMetrics } from '../metrics/metrics.ts';
import type { PathPattern } from '../routing/path-pattern.ts';
import type { CompiledShadow } from '../routing/route-table.ts';
import type { MirrorJob, MirrorResult } from './mirror-runner.ts';
import type { ShadowRecorder } from './shadow-recorder.ts';

export interface MirrorLimits {
  /** Mirrors in flight at once; more are dropped and counted (SHADOW_MAX_IN_FLIGHT, default 64). */
  maxInFlight: number;
  /** Largest request or response body mirrored and compared, bytes (SHADOW_MAX_BODY_BYTES, default 1 MiB). */
  maxBodyBytes: number;
}

/** A request the monolith has answered, as the request handler hands it over. */
export interface MirrorRequest {
  route: string;
  shadow: CompiledShadow;
  method: string;
  path: string;
  headers: http.OutgoingHttpHeaders;
  body: Buffer;
  /** `body` is handed over: a buffer of its own (no pool slice), moved to the worker, unusable here afterwards. */
  primary: { status: number; headers: http.IncomingHttpHeaders; body: Buffer; ms: number };
  monolithUrl: string;
  targetUrl: string;
  /** The matched route's path pattern: the template is made from it. */
  pattern: PathPattern;
}

/** A mirror's reserved place: run it once the monolith has answered, or cancel it. */
export interface MirrorSlot {
  /** Hands the copy to a mirror worker; never throws. */
  run(request: MirrorRequest): void;
  cancel(): void;
}

export interface MirrorDeps {
  recorder: ShadowRecorder;
  metrics: ProxyMetrics;
  limits: MirrorLimits;
  /** Mirror worker threads (SHADOW_WORKERS, default 1). */
  workers: number;
  redactKeys: readonly string[];
  redactValues: readonly string[];
  /** The replicator's status listener and the clock margin, when copies should wait for the service's data to catch up (SYNC_STATUS_URL, SHADOW_CLOCK_MARGIN_MS). */
  sync?: { statusUrl: string; clockMarginMs: number } | undefined;
  log: Logger;
}

/**
 * The proxy's side of shadowing. Nothing of it is on the client's path: a mirror is taken only
 * after the monolith's answer has gone to the client, and then only handed to a worker thread that
 * sends the copy, compares and redacts (`mirror-runner.ts`); results come back in batches and are
 * recorded here. A bounded number of mirrors may be in flight; the rest are dropped and counted.
 */
export class MirrorDispatcher {
  readonly deps: MirrorDeps;
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, { worker: Worker; release: () => void }>();
  #nextId = 0;
  #inFlight = 0;
  /** Jobs of this turn of the event loop, per worker: posted together, one message and one wake-up per batch. */
  readonly #outbox = new Map<Worker, { jobs: MirrorJob[]; transfer: ArrayBuffer[] }>();
  #posting = false;
  #closed = false;
  /** Resolves once every worker has loaded. */
  readonly ready: Promise<void>;

  constructor(deps: MirrorDeps) {
    this.deps = deps;
    const started: Promise<void>[] = [];
    for (let i = 0; i < Math.max(1, deps.workers); i++) {
      const { worker, ready } = this.#spawn();
      this.#workers.push(worker);
      started.push(ready);
    }
    this.ready = Promise.all(started).then(() => {});
  }

  #spawn(): { worker: Worker; ready: Promise<void> } {
    const w = new Worker(new URL('./mirror-worker-thread.ts', import.meta.url), {
      workerData: {
        maxSockets: this.deps.limits.maxInFlight,
        maxBodyBytes: this.deps.limits.maxBodyBytes,
        redactKeys: this.deps.redactKeys,
        redactValues: this.deps.redactValues,
      },
    });
    let loaded!: () => void;
    const ready = new Promise<void>((resolve) => (loaded = resolve));
    w.on('message', (results: MirrorResult[] | 'ready') => {
      if (results === 'ready') {
        // Loaded: from now on the workers never keep the process alive on their own. (Not before:
        // a proxy still starting has nothing else keeping the event loop alive while it waits.)
        w.unref();
        return loaded();
      }
      for (const r of results) this.#done(r);
    });
    // A worker that dies takes its mirrors with it: their places are freed, and a new worker starts
    // (one that dies loading no longer holds up `ready`).
    w.once('exit', (code) => {
      loaded();
      for (const [id, p] of this.#pending) {
        if (p.worker !== w) continue;
        this.#pending.delete(id);
        p.release();
      }
      const i = this.#workers.indexOf(w);
      if (i < 0 || this.#closed) return;
      this.deps.log.error({ code }, 'shadow mirror worker exited; starting another');
      this.#workers[i] = this.#spawn().worker;
    });
    w.on('error', (err) => this.deps.log.error({ error: err.message }, 'shadow mirror worker failed'));
    return { worker: w, ready };
  }

  /** What a route's copies wait for, if anything: the replicator known, the route's data service named, a wait allowed. */
  #freshness(shadow: CompiledShadow): MirrorJob['freshness'] {
    const sync = this.deps.sync;
    const f = shadow.freshness;
    if (!sync || !f.service || f.waitMs <= 0) return undefined;
    return { url: sync.statusUrl, service: f.service, waitMs: f.waitMs, retries: f.retries, marginMs: sync.clockMarginMs };
  }

  get limits(): MirrorLimits {
    return this.deps.limits;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * A place for one mirror, taken now (so the bound holds while the monolith answers), or undefined
   * with the drop counted. The slot is either run or cancelled, once.
   */
  admit(route: string, bodyBytes: number): MirrorSlot | undefined {
    if (bodyBytes > this.deps.limits.maxBodyBytes) return void this.drop(route, 'body_too_large');
    if (this.#closed || this.#inFlight >= this.deps.limits.maxInFlight) return void this.drop(route, 'queue_full');
    this.#inFlight++;
    this.deps.metrics.shadowInFlight.inc();
    let used = false;
    const release = (): void => {
      this.#inFlight--;
      this.deps.metrics.shadowInFlight.dec();
    };
    return {
      run: (r) => {
        if (used) return;
        used = true;
        // Taken now, once the monolith's answer has been delivered: every write it could reflect committed before.
        const answeredAt = Date.now();
        const id = ++this.#nextId;
        const worker = this.#workers[id % this.#workers.length]!;
        this.#pending.set(id, { worker, release });
        const job: MirrorJob = {
          id,
          route: r.route,
          shadow: { timeoutMs: r.shadow.timeoutMs, noiseSampleRate: r.shadow.noise.sampleRate, compare: r.shadow.compareSpec },
          method: r.method,
          path: r.path,
          headers: { ...r.headers },
          body: r.body,
          primary: { status: r.primary.status, headers: r.primary.headers, body: r.primary.body, ms: r.primary.ms },
          monolithUrl: r.monolithUrl,
          targetUrl: r.targetUrl,
          pattern: r.pattern,
          answeredAt,
          freshness: this.#freshness(r.shadow),
        };
        let box = this.#outbox.get(worker);
        if (!box) this.#outbox.set(worker, (box = { jobs: [], transfer: [] }));
        box.jobs.push(job);
        // Moved, not copied: a clone would copy the body (and a pooled slice's whole pool).
        const b = r.primary.body;
        if (b.byteLength > 0 && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer)
          box.transfer.push(b.buffer);
        if (!this.#posting) {
          this.#posting = true;
          setImmediate(this.#post);
        }
      },
      cancel: () => {
        if (used) return;
        used = true;
        release();
      },
    };
  }

  readonly #post = (): void => {
    this.#posting = false;
    for (const [worker, box] of this.#outbox) worker.postMessage(box.jobs, box.transfer);
    this.#outbox.clear();
  };

  /** Counts a mirror not sent: `queue_full`, or `body_too_large` (the request's or the monolith's answer). */
  drop(route: string, reason: 'queue_full' | 'body_too_large'): void {
    this.deps.metrics.shadowRequests.inc({ route, outcome: `dropped_${reason}` });
  }

  #done(r: MirrorResult): void {
    const p = this.#pending.get(r.id);
    if (!p) return;
    this.#pending.delete(r.id);
    p.release();
    const m = this.deps.metrics;
    m.shadowRequests.inc({ route: r.route, outcome: r.outcome });
    m.shadowCompareSeconds.observe(r.compareMs / 1000);
    this.deps.recorder.record({
      route: r.route,
      template: r.template,
      monolith: r.monolith,
      service: r.service,
      differences: r.differences,
      stale: r.stale,
      noise: r.noise,
      example: (field) => r.examples[field],
    });
  }

  /** Stops taking mirrors; waits (up to `graceMs`) for those in flight; stops the workers. */
  async close(graceMs = 2_000): Promise<void> {
    this.#closed = true;
    const deadline = Date.now() + graceMs;
    while (this.#inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
