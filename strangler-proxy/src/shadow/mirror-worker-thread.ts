// The mirror worker thread: sends the copies, compares the answers, builds the redacted examples,
// and reports back in batches; the proxy sends its jobs in batches too (`mirror-wire.ts` says how
// they are timed), so shadow traffic costs each side a message per batch, not one per mirror.
// Jobs and results cross as flat tuples (`mirror-wire.ts`); a route's settings come once; a job's
// bodies come through the ring the two threads share (`body-ring.ts`).
import { parentPort, workerData } from 'node:worker_threads';
import { BodyRing } from './body-ring.ts';
import { DRY_RUN_HEADER } from './dry-run-mark.ts';
import { compileRules, type CompareRules } from './compare-responses.ts';
import { MirrorRunner, type MirrorResult } from './mirror-runner.ts';
import { RESULT_BATCH_MS, ROUTES_KEPT, type JobBatch, type JobWire, type MirrorRoute, type ResultWire } from './mirror-wire.ts';
import { pathTemplate } from './path-template.ts';
import { redactionRules } from './redact.ts';

const init = workerData as {
  maxSockets: number;
  maxBodyBytes: number;
  redactKeys: string[];
  redactValues: string[];
  /** Mirrors this worker has finished, shared with the proxy: it frees their places in its bound from this. */
  finished: Int32Array;
  /** The ring jobs' bodies come in (`body-ring.ts`). */
  ring: BodyRing['shared'];
};
const ring = new BodyRing(init.ring);
const mirrorer = new MirrorRunner({
  maxSockets: init.maxSockets,
  maxBodyBytes: init.maxBodyBytes,
  redaction: redactionRules(init.redactKeys, init.redactValues),
});

/** Routes told of, newest last. */
const routes = new Map<number, { route: MirrorRoute; rules: CompareRules }>();

// An answered copy's result waits for the batch of `RESULT_BATCH_MS`, the copy counted finished at
// once. A failed one goes back at once (with the batch) and holds its place until it arrives: the
// target's shadow breaker hears of every failure before another copy can take that place, as
// it must to open after its threshold with no more than the bound's copies sent past it.
let batch: ResultWire[] = [];
let timer: NodeJS.Timeout | undefined;
const flush = (): void => {
  clearTimeout(timer);
  timer = undefined;
  parentPort!.postMessage(batch);
  batch = [];
};
const report = (r: ResultWire): void => {
  batch.push(r);
  if (r[1] !== 1) return flush();
  Atomics.add(init.finished, 0, 1);
  timer ??= setTimeout(flush, RESULT_BATCH_MS);
};

parentPort!.on('message', (b: JobBatch) => {
  for (const route of b.routes) {
    routes.delete(route.ref);
    routes.set(route.ref, { route, rules: compileRules(route.compare) });
    if (routes.size > ROUTES_KEPT) routes.delete(routes.keys().next().value!);
  }
  for (const job of b.jobs) handle(job);
});

const buffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** A job's request body and answer: from the ring (given as their lengths), or from the message. */
function bodies(ringAt: number, body: Uint8Array | number, primary: Uint8Array | number): [Buffer, Buffer] {
  if (typeof body === 'number' && typeof primary === 'number') {
    const both = ring.take(ringAt, body + primary);
    return [both.subarray(0, body), both.subarray(body)];
  }
  if (typeof body === 'number' || typeof primary === 'number')
    throw new Error('a job with one body in the ring and the other in the message');
  return [buffer(body), buffer(primary)];
}

function handle(w: JobWire): void {
  const [id, ref, method, path, answeredAt, status, ms, headers, dryRunMark, primaryHeaders, ringAt, body, primaryBody] = w;
  // Taken out of the ring first, whatever becomes of the job: the proxy writes over it once taken.
  const [requestBody, primary] = bodies(ringAt, body, primaryBody);
  // A clone of its own: marked here, where copying costs the proxy's event loop nothing.
  headers[DRY_RUN_HEADER] = dryRunMark;
  const known = routes.get(ref);
  const failed = (message: string, template: string): ResultWire => {
    const field = '(comparison failed)';
    return [
      id,
      0,
      template,
      -1,
      0,
      0,
      0,
      { differences: [{ path: field, field, kind: 'missing', b: message }], noise: undefined, examples: {} },
    ];
  };
  if (!known) return report(failed(`the mirror worker was not told of route #${ref}`, '(unknown)'));
  void mirrorer
    .run({
      id,
      route: known.route,
      rules: known.rules,
      method,
      path,
      headers,
      body: requestBody,
      primary: { status, headers: primaryHeaders, body: primary, ms },
      answeredAt,
    })
    .then(wire, (err: unknown) => failed((err as Error).message, pathTemplate(path, known.route.pattern)))
    .then(report);
}

function wire(r: MirrorResult): ResultWire {
  const out: ResultWire = [
    r.id,
    r.outcome === 'mirrored' ? 1 : 0,
    r.template,
    r.service.status ?? -1,
    r.service.ms,
    r.stale ? 1 : 0,
    r.compareMs,
  ];
  if (r.differences.length || r.noise !== undefined || Object.keys(r.examples).length)
    out.push({ differences: r.differences, noise: r.noise, examples: r.examples });
  return out;
}

// Loaded and listening: the proxy waits for this before it mirrors, so no copy's latency includes the start-up.
parentPort!.postMessage('ready');
