import { z } from 'zod';

/** Route modes: monolith, shadow (the monolith answers, a sample is mirrored to the target and compared), canary, service. */
export const MODES = ['monolith', 'shadow', 'canary', 'service'] as const;
export type Mode = (typeof MODES)[number];

export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type Method = (typeof METHODS)[number];

const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const name = (what: string) =>
  z.string({ error: `${what} must be a name` }).regex(NAME, `${what} must be lowercase letters, digits and dashes, starting with a letter`);

/** Per-upstream circuit breaker; every option has a unit and a default. */
export const BreakerSchema = z.strictObject({
  /** Percentage of failed calls in the rolling window that opens the breaker (default 50). */
  errorThresholdPercentage: z.number().min(1).max(100).default(50),
  /** Calls in the rolling window before the breaker may open at all (default 20). */
  volumeThreshold: z.number().int().min(1).max(100_000).default(20),
  /** Milliseconds an open breaker waits before letting one probe through (default 10 000). */
  resetTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  /** Milliseconds of the rolling statistics window (default 10 000). */
  rollingWindowMs: z.number().int().min(1_000).max(600_000).default(10_000),
});

export const UpstreamSchema = z.strictObject({
  /** Base URL; only its origin is used, a path is refused. */
  url: z
    .url({ error: 'must be an http:// or https:// URL' })
    .refine((u) => /^https?:\/\/[^/]+\/?$/.test(u), 'must be an origin like http://host:port, without a path'),
  /** Milliseconds to wait for the response headers before the attempt counts as timed out (default 10 000). */
  timeoutMs: z.number().int().min(10).max(300_000).default(10_000),
  /** Milliseconds to wait for the TCP connection (default 2 000). */
  connectTimeoutMs: z.number().int().min(10).max(60_000).default(2_000),
  /** Keep-alive sockets kept per upstream (default 256). */
  maxSockets: z.number().int().min(1).max(10_000).default(256),
  breaker: BreakerSchema.prefault({}),
});

const HeaderPredicate = z.union([z.string(), z.strictObject({ present: z.boolean() }), z.strictObject({ regex: z.string().max(500) })]);

/** What shadow mode mirrors and how it compares; every option with its unit and default. */
export const ShadowSchema = z.strictObject({
  /** Fraction of the route's requests mirrored to the target, 0–1 (default 1). */
  sampleRate: z.number().min(0, 'must be from 0 to 1').max(1, 'must be from 0 to 1').default(1),
  /** Mirror writes too, with the dry-run header (the target must roll them back; default false: reads only). */
  writes: z.boolean().default(false),
  /** Fields never compared: `$.updatedAt`, `$.items[*].id`, `$..requestId`, `headers.date`, `status`. */
  ignore: z.array(z.string()).default([]),
  /** Response headers compared besides the status (default content-type). */
  headers: z.array(z.string().regex(/^[a-zA-Z0-9-]+$/, 'must be a header name')).default(['content-type']),
  /** Numbers within this absolute difference are equal, by path (`"$.items[*].rating": 0.05`; `"*"` for all). */
  tolerance: z.record(z.string(), z.number().min(0)).default({}),
  /** Arrays compared as sets, their elements matched by a key field (`"$.items": id`). */
  sets: z.record(z.string(), z.string().min(1)).default({}),
  /** ISO 8601 timestamps at most this many ms apart are equal (default 0: the same instant in any notation). */
  timestampToleranceMs: z.number().int().min(0).max(86_400_000).default(0),
  /** Milliseconds to wait for the mirrored answer before it counts as the target's failure (default 5 000). */
  timeoutMs: z.number().int().min(10).max(60_000).default(5_000),
  noise: z
    .strictObject({
      /** Fraction of mirrored reads also sent to the monolith a second time, to learn which fields differ by themselves (default 0.1). */
      sampleRate: z.number().min(0).max(1).default(0.1),
      /** A field is reported when its difference rate exceeds its noise rate by this fraction of it (default 0.2)… */
      relativeThreshold: z.number().min(0).max(10).default(0.2),
      /** …and by at least this much absolutely (default 0.01). */
      absoluteThreshold: z.number().min(0).max(1).default(0.01),
    })
    .prefault({}),
  freshness: z
    .strictObject({
      /** Milliseconds a copy waits for the replicator to have applied every change made before the monolith answered, before it is sent (default 1 500; 0: no wait). A copy whose answers differ and that waited in vain is counted stale, not as a difference. */
      waitMs: z.number().int().min(0).max(10_000).default(1_500),
      /** Times a read whose answers differ is asked of both sides again, each after the wait, to tell a change made meanwhile from a real difference (default 2). */
      retries: z.number().int().min(0).max(5).default(2),
      /** The replicated service whose copy is waited for (default: the route's target). */
      service: name('a service').optional(),
    })
    .prefault({}),
  /** Readiness gate: the samples needed, and the score (0–100) that counts as ready (defaults 1 000 and 99). */
  gate: z
    .strictObject({ minSamples: z.number().int().min(1).default(1000), minScore: z.number().min(0).max(100).default(99) })
    .prefault({}),
});

export const RouteSchema = z.strictObject({
  name: name('a route name'),
  /** Routes of one group flip together and share one canary split, so a user's journey stays on one side. */
  group: name('a group name').optional(),
  match: z.strictObject({
    /** Methods matched; all when absent. */
    methods: z
      .array(z.enum(METHODS, { error: `must be one of ${METHODS.join(', ')}` }))
      .min(1)
      .optional(),
    /** `/api/listings/:id?`, `/api/listings/*`; see path-pattern.ts. */
    path: z.string(),
    headers: z.record(z.string().regex(/^[a-zA-Z0-9-]+$/, 'must be a header name'), HeaderPredicate).optional(),
    cookies: z.record(z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be a cookie name'), HeaderPredicate).optional(),
  }),
  mode: z.enum(MODES, { error: `must be one of ${MODES.join(', ')}` }).optional(),
  target: name('a target').optional(),
  /** Percent of users (0–100, two decimals) sent to the target in canary mode. */
  weight: z
    .number({ error: 'must be a number from 0 to 100' })
    .min(0, 'must be from 0 to 100')
    .max(100, 'must be from 0 to 100')
    .optional(),
  /** Writes (anything but GET, HEAD, OPTIONS) get 503 with Retry-After while true; reads pass (default false). */
  frozen: z.boolean({ error: 'must be true or false' }).optional(),
  /** Shadow options (a group's apply to its routes that have none). */
  shadow: ShadowSchema.optional(),
});

/** How `strangler cutover` moves a group: the canary steps, how long each bakes, and when the target is worse than the monolith. */
export const CutoverSchema = z.strictObject({
  /** Canary weights stepped through after the readiness gate, percent, ascending (default 1, 10, 50). */
  steps: z
    .array(z.number().min(0.01, 'must be from 0.01 to 100').max(100, 'must be from 0.01 to 100'))
    .min(1)
    .refine((w) => w.every((x, i) => i === 0 || x > w[i - 1]!), 'must be ascending')
    .default([1, 10, 50]),
  /** Seconds each canary step runs before it is judged (default 600). */
  bakeSeconds: z.number().int().min(1).max(86_400).default(600),
  /** The target's share of 5xx answers may exceed the monolith's by at most this (default 0.01: one point). */
  maxErrorRateIncrease: z.number().min(0).max(1).default(0.01),
  /** The target's p99 may be at most this multiple of the monolith's (default 1.2)… */
  maxP99Ratio: z.number().min(1).max(100).default(1.2),
  /** …or within this many milliseconds of it (latency buckets are coarse; default 25). */
  p99SlackMs: z.number().min(0).max(60_000).default(25),
  /** Requests each side must have answered in a step for a verdict; fewer by the end of the bake: inconclusive, and the cutover pauses (default 200). */
  minRequests: z.number().int().min(1).max(10_000_000).default(200),
});

export const GroupSchema = z.strictObject({
  mode: z.enum(MODES, { error: `must be one of ${MODES.join(', ')}` }),
  target: name('a target').optional(),
  weight: z.number().min(0, 'must be from 0 to 100').max(100, 'must be from 0 to 100').optional(),
  /** Writes to the group's routes get 503 with Retry-After while true (a writer switch in progress; default false). */
  frozen: z.boolean({ error: 'must be true or false' }).default(false),
  /** Shadow options for the group's routes (a route's own `shadow` wins). */
  shadow: ShadowSchema.optional(),
  /** How `strangler cutover` steps this group (defaults when absent). */
  cutover: CutoverSchema.prefault({}),
});

export const RouteTableSchema = z.strictObject({
  version: z.literal(1, { error: 'must be 1 (the only route table format so far)' }),
  upstreams: z.record(name('an upstream name'), UpstreamSchema).refine((u) => Object.keys(u).length > 0, 'must name at least one upstream'),
  /** Mode, target and weight of each route group; a grouped route takes them from here. */
  groups: z.record(name('a group name'), GroupSchema).default({}),
  routes: z.array(RouteSchema).default([]),
  /** The upstream for anything no route matches, and where fallbacks go. */
  default: name('the default upstream'),
});

export type RouteTableSource = z.infer<typeof RouteTableSchema>;
export type UpstreamSpec = z.infer<typeof UpstreamSchema>;
export type BreakerSpec = z.infer<typeof BreakerSchema>;
export type RouteSpec = z.infer<typeof RouteSchema>;
export type HeaderPredicateSpec = z.infer<typeof HeaderPredicate>;
export type ShadowSpec = z.infer<typeof ShadowSchema>;
export type CutoverSpec = z.infer<typeof CutoverSchema>;
