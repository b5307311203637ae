import type http from 'node:http';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { ProxyMetrics } from '../metrics/metrics.ts';
import type { CallOutcome, CircuitBreaker } from '../resilience/circuit-breaker.ts';
import type { PathPattern } from '../routing/path-pattern.ts';
import type { CompiledShadow } from '../routing/route-table.ts';
import { BodyRing } from './body-ring.ts';
import {
  BODY_RING_BYTES,
  JOB_BATCH_MS,
  JOB_LATEST_MS,
  NO_DETAIL,
  ROUTES_KEPT,
  type JobBatch,
  type JobWire,
  type MirrorRoute,
  type ResultWire,
} from './mirror-wire.ts';
import type { ShadowRecorder } from './shadow-recorder.ts';

export interface MirrorLimits {
  /** Mirrors being made at once (sent, answered, compared); more are dropped and counted (SHADOW_MAX_IN_FLIGHT, default 64). */
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
  /** The headers the primary was sent with (read, never changed). */
  headers: http.OutgoingHttpHeaders;
  /** The copy's dry-run mark: the worker adds it to the copy's headers, so the event loop never copies them. */
  dryRunMark: string;
  body: Buffer;
  /** `body`: the answer's chunks as they came, `bytes` in all; copied during `run`, not kept. */
  primary: { status: number; headers: http.IncomingHttpHeaders; body: readonly Buffer[]; bytes: number; ms: number };
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
 * recorded here. A bounded number of mirrors may be in flight; the rest are dropped and counted,
 * as are those to a target whose shadow breaker has opened (its copies got no answer).
 */
export class MirrorDispatcher {
  readonly deps: MirrorDeps;
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<
    number,
    { worker: Worker; release: (outcome: CallOutcome) => void; route: string; status: number; ms: number }
  >();
  #nextId = 0;
  /** Mirrors admitted whose results are not yet recorded (some finished in a worker, their results on the way). */
  #inFlight = 0;
  /**
   * Per worker, what the two threads share: the mirrors it has finished (a counter it adds to) with
   * how many of their results were recorded here, and the ring its jobs' bodies cross in.
   */
  readonly #shared = new Map<Worker, { finished: Int32Array; recorded: number; ring: BodyRing }>();
  /** Jobs not yet posted, per worker: one message and one wake-up per batch. */
  readonly #outbox = new Map<Worker, { batch: JobBatch; transfer: ArrayBuffer[] }>();
  /** When the open batch took its first job (`performance.now()`); undefined while the outbox is empty. */
  #openedAt: number | undefined;
  /** The `JOB_LATEST_MS` timer, while one is set. */
  #latest: NodeJS.Timeout | undefined;
  /** A route's settings, per route table (each compiles its own shadow settings) and pair of upstreams. */
  readonly #routes = new WeakMap<CompiledShadow, Map<string, Map<string, MirrorRoute>>>();
  #nextRef = 0;
  /** The routes each worker has been told of since it last forgot. */
  readonly #told = new Map<Worker, Set<number>>();
  #closed = false;
  /** Resolves once every worker has loaded. */
  readonly ready: Promise<void>;

  constructor(deps: MirrorDeps) {
    this.deps = deps;
    deps.metrics.shadowInFlightNow = () => this.#running();
    const started: Promise<void>[] = [];
    for (let i = 0; i < Math.max(1, deps.workers); i++) {
      const { worker, ready } = this.#spawn();
      this.#workers.push(worker);
      started.push(ready);
    }
    this.ready = Promise.all(started).then(() => {});
  }

  #spawn(): { worker: Worker; ready: Promise<void> } {
    const finished = new Int32Array(new SharedArrayBuffer(4));
    const ring = BodyRing.create(BODY_RING_BYTES);
    const w = new Worker(new URL('./mirror-worker-thread.ts', import.meta.url), {
      workerData: {
        maxSockets: this.deps.limits.maxInFlight,
        maxBodyBytes: this.deps.limits.maxBodyBytes,
        redactKeys: this.deps.redactKeys,
        redactValues: this.deps.redactValues,
        finished,
        ring: ring.shared,
      },
    });
    this.#shared.set(w, { finished, recorded: 0, ring });
    let loaded!: () => void;
    const ready = new Promise<void>((resolve) => (loaded = resolve));
    w.on('message', (results: ResultWire[] | 'ready') => {
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
        p.release('not_counted');
      }
      this.#told.delete(w);
      // Its finished mirrors whose results it had not sent yet were just released with the rest.
      this.#shared.delete(w);
      const i = this.#workers.indexOf(w);
      if (i < 0 || this.#closed) return;
      this.deps.log.error({ code }, 'shadow mirror worker exited; starting another');
      this.#workers[i] = this.#spawn().worker;
    });
    w.on('error', (err) => this.deps.log.error({ error: err.message }, 'shadow mirror worker failed'));
    return { worker: w, ready };
  }

  /** What a route's copies wait for, if anything: the replicator known, the route's data service named, a wait allowed. */
  #freshness(shadow: CompiledShadow): MirrorRoute['freshness'] {
    const sync = this.deps.sync;
    const f = shadow.freshness;
    if (!sync || !f.service || f.waitMs <= 0) return undefined;
    return { url: sync.statusUrl, service: f.service, waitMs: f.waitMs, retries: f.retries, marginMs: sync.clockMarginMs };
  }

  get limits(): MirrorLimits {
    return this.deps.limits;
  }

  /** Mirrors admitted whose results are not yet recorded: 0 once every result is in the recorder. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Mirrors being made: admitted, less those a worker has finished (their results may still be on the way). */
  #running(): number {
    let n = this.#inFlight;
    // `| 0`: both counts wrap alike past 2³¹.
    for (const f of this.#shared.values()) n -= (Atomics.load(f.finished, 0) - f.recorded) | 0;
    return n;
  }

  /**
   * A place for one mirror, taken now (so the bound holds while the monolith answers), or undefined
   * with the drop counted. `breaker` is the target's shadow breaker: its permit is taken last, so
   * a copy dropped for another reason never spends a half-open breaker's one probe, and told
   * whether the copy got an answer. The slot is either run or cancelled, once.
   */
  admit(route: string, bodyBytes: number, breaker: CircuitBreaker): MirrorSlot | undefined {
    if (bodyBytes > this.deps.limits.maxBodyBytes) return void this.drop(route, 'body_too_large');
    if (this.#closed || this.#running() >= this.deps.limits.maxInFlight) return void this.drop(route, 'queue_full');
    const permit = breaker.admit();
    if (!permit.admitted) return void this.drop(route, 'target_down');
    this.#inFlight++;
    let used = false;
    const release = (outcome: CallOutcome): void => {
      this.#inFlight--;
      permit.done(outcome);
    };
    return {
      run: (r) => {
        if (used) return;
        used = true;
        // Taken now, once the monolith's answer has been delivered: every write it could reflect committed before.
        const answeredAt = Date.now();
        const id = ++this.#nextId;
        const worker = this.#workers[id % this.#workers.length]!;
        const { primary: p } = r;
        this.#pending.set(id, { worker, release, route: r.route, status: p.status, ms: p.ms });
        const route = this.#routeOf(r);
        let box = this.#outbox.get(worker);
        if (!box) this.#outbox.set(worker, (box = { batch: { routes: [], jobs: [] }, transfer: [] }));
        let told = this.#told.get(worker);
        if (!told || told.size >= ROUTES_KEPT / 2) this.#told.set(worker, (told = new Set()));
        if (!told.has(route.ref)) {
          told.add(route.ref);
          box.batch.routes.push(route);
        }
        const job: JobWire = [
          id,
          route.ref,
          r.method,
          r.path,
          answeredAt,
          p.status,
          p.ms,
          r.headers,
          r.dryRunMark,
          p.headers,
          ...this.#bodies(worker, r, box.transfer),
        ];
        box.batch.jobs.push(job);
        // Posted on a turn the event loop is awake for anyway (this one), once the batch is old
        // enough; the timer is only for a batch that no later mirror comes to take along.
        if (this.#openedAt === undefined) {
          this.#openedAt = performance.now();
          this.#latest ??= setTimeout(this.#postLate, JOB_LATEST_MS);
        } else if (performance.now() - this.#openedAt >= JOB_BATCH_MS) this.#post();
      },
      cancel: () => {
        if (used) return;
        used = true;
        release('not_counted');
      },
    };
  }

  /** The job's bodies: into the worker's ring, or, when they do not fit there, in the message (the answer moved, not copied). */
  #bodies(
    worker: Worker,
    r: MirrorRequest,
    transfer: ArrayBuffer[],
  ): [ringAt: number, body: Uint8Array | number, primary: Uint8Array | number] {
    const { body, primary: p } = r;
    const at = this.#shared.get(worker)?.ring.put(body.length ? [body, ...p.body] : p.body, body.length + p.bytes) ?? -1;
    if (at >= 0) return [at, body.length, p.bytes];
    const joined = Buffer.allocUnsafeSlow(p.bytes);
    let to = 0;
    for (const c of p.body) to += c.copy(joined, to);
    if (joined.byteLength > 0) transfer.push(joined.buffer as ArrayBuffer);
    // A request body that is a slice of Node's pool is copied out, or the clone would copy the whole pool.
    return [-1, body.byteLength === body.buffer.byteLength ? body : new Uint8Array(body), joined];
  }

  readonly #postLate = (): void => {
    this.#latest = undefined;
    if (this.#openedAt !== undefined) this.#post();
  };

  #post(): void {
    this.#openedAt = undefined;
    for (const [worker, box] of this.#outbox) worker.postMessage(box.batch, box.transfer);
    this.#outbox.clear();
  }

  /** The route's settings as the workers know them: made once per route table and pair of upstreams. */
  #routeOf(r: MirrorRequest): MirrorRoute {
    // By the table's own URL strings, whose hashes V8 keeps, not by a key joined from them per mirror.
    let byMonolith = this.#routes.get(r.shadow);
    if (!byMonolith) this.#routes.set(r.shadow, (byMonolith = new Map()));
    let byTarget = byMonolith.get(r.monolithUrl);
    if (!byTarget) byMonolith.set(r.monolithUrl, (byTarget = new Map()));
    let route = byTarget.get(r.targetUrl);
    if (!route)
      byTarget.set(
        r.targetUrl,
        (route = {
          ref: ++this.#nextRef,
          route: r.route,
          timeoutMs: r.shadow.timeoutMs,
          noiseSampleRate: r.shadow.noise.sampleRate,
          compare: r.shadow.compareSpec,
          monolithUrl: r.monolithUrl,
          targetUrl: r.targetUrl,
          pattern: r.pattern,
          freshness: this.#freshness(r.shadow),
        }),
      );
    return route;
  }

  /** Counts a mirror not sent: `queue_full`, `body_too_large` (the request's or the monolith's answer), or `target_down` (its breaker open). */
  drop(route: string, reason: 'queue_full' | 'body_too_large' | 'target_down'): void {
    this.deps.metrics.shadowRequests.inc({ route, outcome: `dropped_${reason}` });
  }

  #done(r: ResultWire): void {
    const [id, answered, template, serviceStatus, serviceMs, stale, compareMs, detail = NO_DETAIL] = r;
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    // Only an answered copy was counted finished by its worker (a failed one held its place until now).
    const finished = answered ? this.#shared.get(p.worker) : undefined;
    if (finished) finished.recorded = (finished.recorded + 1) | 0;
    p.release(answered ? 'success' : 'failure');
    const m = this.deps.metrics;
    m.shadowOutcomes.add(p.route, answered ? 'mirrored' : 'failed');
    m.observeCompare(compareMs / 1000);
    this.deps.recorder.record({
      route: p.route,
      template,
      monolith: { status: p.status, ms: p.ms },
      service: { status: serviceStatus < 0 ? null : serviceStatus, ms: serviceMs },
      differences: detail.differences,
      stale: stale === 1,
      noise: detail.noise,
      example: (field) => detail.examples[field],
    });
  }

  /** Stops taking mirrors; waits (up to `graceMs`) for those in flight; stops the workers. */
  async close(graceMs = 2_000): Promise<void> {
    this.#closed = true;
    const deadline = Date.now() + graceMs;
    while (this.#inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    clearTimeout(this.#latest);
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
