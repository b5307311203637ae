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
 * How long jobs, and results, gather before they cross, ms. Not one turn of the event loop: at a
 * steady rate a turn holds one request, so every mirror was a message each way — a clone, a
 * wake-up of the other thread, a message event — fixed costs that were a large part of what a
 * mirror cost the proxy's event loop. A copy leaves up to this much later, off the client's path;
 * a mirror's place in the in-flight bound is held as much longer.
 */
export const BATCH_MS = 1;

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
  body: Uint8Array,
  /** The monolith's answer, whole (moved, not copied, when it has memory of its own). */
  primaryBody: Uint8Array,
];

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
