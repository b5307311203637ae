// What crosses between the proxy's event loop and a mirror worker thread. Structured cloning is
// paid on the event loop for every job, property by property, so a job is a flat tuple of
// primitives; what is the same for every copy of a route (its settings, the two upstreams' URLs,
// its path pattern) goes to each worker once per route table, under a number, and the answer's
// head goes as the object undici parsed it into, not rebuilt. A result is a tuple too; the rare
// parts (differences, noise, examples) ride in one object only when there are any.
import type { IncomingHttpHeaders } from 'node:http';
import type { PathPattern } from '../routing/path-pattern.ts';
import type { CompareRulesSpec, FieldDifference } from './compare-responses.ts';
import type { FreshnessSpec } from './freshness.ts';
import type { ShadowExample } from './shadow-store.ts';

/** What is the same for every copy of one route in one route table. */
export interface MirrorRoute {
  ref: number;
  route: string;
  timeoutMs: number;
  noiseSampleRate: number;
  compare: CompareRulesSpec;
  monolithUrl: string;
  targetUrl: string;
  /** The matched route's path pattern: the template is made from it. */
  pattern: PathPattern;
  /** Where to ask whether the service's data has caught up; undefined: sent at once. */
  freshness: FreshnessSpec | undefined;
}

/**
 * Routes a worker keeps, newest last. The proxy tells a worker again of any route it has not
 * told it of since it last forgot (at half this many), so a job never names one the worker dropped.
 */
export const ROUTES_KEPT = 1024;

/**
 * Jobs and results cross in batches, timed so that shadowing wakes a sleeping thread as seldom as
 * it can. One message per mirror each way was a large part of what a mirror cost the proxy's event
 * loop (a clone, the other thread woken, a message event), and so is a timer or a message that
 * wakes the event loop when it would otherwise sleep: on the 2-core microVM the benchmarks run on,
 * a thread woken from its sleep by a 1 ms timer spends ~43 µs of CPU on that wake-up
 * (`/proc/self/task/<tid>/schedstat`), more than a proxied request's own work at saturation.
 *
 * Jobs gather for `JOB_BATCH_MS` and leave with the first mirror taken after that, on a turn the
 * event loop was awake for anyway; a quiet spell's last jobs leave after `JOB_LATEST_MS` at most.
 * A copy leaves that much later, off the client's path.
 */
export const JOB_BATCH_MS = 1;
export const JOB_LATEST_MS = 10;

/**
 * Results of answered copies gather in the worker for this long, ms, and wake the event loop once
 * per batch. Such a copy frees its place in the in-flight bound as soon as the worker has finished
 * it (a counter the two threads share), not when its result arrives; what waits is the recording.
 * A failed copy's result goes back at once, and its place is freed when it arrives.
 */
export const RESULT_BATCH_MS = 10;

/** One copy to make. `headers` are those the primary was sent with; the worker adds `dryRunMark` to them. */
export type JobWire = [
  id: number,
  ref: number,
  method: string,
  /** Path and query as forwarded. */
  path: string,
  /** When the monolith's answer was handed over, epoch ms. */
  answeredAt: number,
  status: number,
  /** The monolith's time to answer, ms. */
  ms: number,
  headers: Record<string, string | string[] | number | undefined>,
  dryRunMark: string,
  /** The monolith's head as undici parsed it, the same form as the copy's answer is compared in. */
  primaryHeaders: IncomingHttpHeaders,
  /** Where the two bodies are in the worker's body ring (`body-ring.ts`), the request's then the answer's; -1: here, in the message. */
  ringAt: number,
  /** The request body; in the ring, its length. */
  body: Uint8Array | number,
  /** The monolith's answer, whole (moved, not copied, when it rides in the message); in the ring, its length. */
  primaryBody: Uint8Array | number,
];

/** Each mirror worker's body ring, bytes: at 3,000 mirrors a second of 1 KB, ~45 KB are in it at a time; a record over a quarter of it rides in the message. */
export const BODY_RING_BYTES = 2 * 1024 * 1024;

/** A batch for a worker: the routes it has not been told of yet, then the jobs. */
export interface JobBatch {
  routes: MirrorRoute[];
  jobs: JobWire[];
}

/** The parts of a result that are usually empty. */
export interface ResultDetail {
  differences: FieldDifference[];
  /** The differences between two monolith answers, when this mirror measured noise. */
  noise: FieldDifference[] | undefined;
  /** A redacted example for each of the first few differing fields. */
  examples: Record<string, ShadowExample>;
}

export type ResultWire = [
  id: number,
  /** 1: the target answered; 0: it did not. */
  answered: 0 | 1,
  template: string,
  /** -1: no answer. */
  serviceStatus: number,
  serviceMs: number,
  /** The answers differed, and the service's data could not be shown to be as new as the monolith's. */
  stale: 0 | 1,
  compareMs: number,
  /** Absent: no differences, no noise measured, no examples. */
  detail?: ResultDetail,
];

export const NO_DETAIL: ResultDetail = Object.freeze({ differences: [], noise: undefined, examples: {} }) as ResultDetail;
