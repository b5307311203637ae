import type { IncomingHttpHeaders } from 'node:http';
import type { Mode, UpstreamSpec } from '../config/route-table-schema.ts';
import type { CompareRules, CompareRulesSpec } from '../shadow/compare-responses.ts';
import type { NoiseThresholds } from '../shadow/noise.ts';
import { isSafeMethod } from '../resilience/upstream-failure.ts';
import { canaryBucket, inCanary } from './canary.ts';
import { matchPath, type PathPattern } from './path-pattern.ts';

/** A header or cookie condition of a route. */
export type Predicate = { name: string; test: (value: string | undefined) => boolean; describe: string };

export interface CompiledRoute {
  name: string;
  /** The split salt and flip unit: the group's name, or the route's own when ungrouped. */
  group: string;
  index: number;
  line: number | undefined;
  methods: ReadonlySet<string> | undefined;
  path: PathPattern;
  headers: readonly Predicate[];
  cookies: readonly Predicate[];
  mode: Mode;
  /**
   * The upstream the route is moving to (`target:` in the table): what serves it in service mode,
   * the canary's side, where shadow copies go. Unset in monolith mode when the table names none.
   */
  service: string | undefined;
  weight: number;
  /** Writes are refused with 503 while a writer switch moves the route's data. */
  frozen: boolean;
  /** How requests are mirrored and compared: set in shadow mode (and kept, when configured, in others). */
  shadow: CompiledShadow | undefined;
}

/** A route's shadow options, compiled. */
export interface CompiledShadow {
  sampleRate: number;
  writes: boolean;
  timeoutMs: number;
  rules: CompareRules;
  /** The rules in their plain form, for a comparison on a worker thread. */
  compareSpec: CompareRulesSpec;
  noise: { sampleRate: number } & NoiseThresholds;
  gate: { minSamples: number; minScore: number };
  /** What a copy waits for before it is sent, and how often a differing read is asked again; `service` undefined: nothing to wait for. */
  freshness: { service: string | undefined; waitMs: number; retries: number };
}

/** What the proxy needs to know about a request to route it. */
export interface RequestFacts {
  method: string;
  segments: readonly string[];
  headers: IncomingHttpHeaders;
  cookies: ReadonlyMap<string, string>;
  /** Stable per user: the session subject, else the proxy's own cookie. Read only by a canary's split (a visitor without either is then given a uid). */
  userKey: { readonly value: string };
}

export interface RouteDecision {
  route: CompiledRoute | undefined;
  mode: Mode | 'default';
  /** The upstream to try first. */
  upstream: string;
  /** In shadow mode: where the mirrored copy goes. */
  mirrorTo?: string;
  /** Why, in words, for `explain` and logs. */
  reason: string;
  /** The user's canary bucket (0–9 999) when the route is a canary. */
  bucket?: number;
}

/** The compiled, immutable route table. A reload builds a new one; requests keep the one they started with. */
export class RouteTable {
  readonly routes: readonly CompiledRoute[];
  readonly upstreams: ReadonlyMap<string, UpstreamSpec>;
  readonly defaultUpstream: string;
  /** sha256 of the file's text, first 12 hex digits. */
  readonly hash: string;
  /** Increases by one with every table this process loads. */
  readonly version: number;
  readonly loadedAt: Date;

  constructor(init: {
    routes: CompiledRoute[];
    upstreams: Map<string, UpstreamSpec>;
    defaultUpstream: string;
    hash: string;
    version: number;
  }) {
    this.routes = Object.freeze(init.routes.map((r) => Object.freeze(r)));
    this.upstreams = init.upstreams;
    this.defaultUpstream = init.defaultUpstream;
    this.hash = init.hash;
    this.version = init.version;
    this.loadedAt = new Date();
    Object.freeze(this);
  }

  /**
   * Whether any of the group's routes accepts a write (a method that is not safe, or every method):
   * then who serves the group decides who writes its rows, and its writer moves only with its data.
   */
  takesWrites(group: string): boolean {
    return this.routes.some((r) => r.group === group && (!r.methods || [...r.methods].some((m) => !isSafeMethod(m))));
  }

  /** The first route whose method, path, headers and cookies all match. */
  match(facts: Omit<RequestFacts, 'userKey'>): CompiledRoute | undefined {
    return this.routes.find(
      (r) =>
        (!r.methods || r.methods.has(facts.method)) &&
        matchPath(r.path, facts.segments) &&
        r.headers.every((p) => p.test(headerValue(facts.headers, p.name))) &&
        r.cookies.every((p) => p.test(facts.cookies.get(p.name))),
    );
  }

  decide(facts: RequestFacts): RouteDecision {
    const route = this.match(facts);
    if (!route)
      return {
        route,
        mode: 'default',
        upstream: this.defaultUpstream,
        reason: `no route matches; the default upstream ${this.defaultUpstream}`,
      };
    switch (route.mode) {
      case 'monolith':
        return { route, mode: 'monolith', upstream: this.defaultUpstream, reason: `route ${route.name} is in monolith mode` };
      case 'service':
        return { route, mode: 'service', upstream: route.service!, reason: `route ${route.name} is served by ${route.service}` };
      case 'shadow':
        return {
          route,
          mode: 'shadow',
          upstream: this.defaultUpstream,
          mirrorTo: route.service!,
          reason: `route ${route.name} is shadowed: ${this.defaultUpstream} answers; ${Math.round(route.shadow!.sampleRate * 1000) / 10}% of ${route.shadow!.writes ? 'requests' : 'reads'} are mirrored to ${route.service} and compared`,
        };
      case 'canary': {
        const bucket = canaryBucket(route.group, facts.userKey.value);
        const hit = inCanary(bucket, route.weight);
        return {
          route,
          mode: 'canary',
          upstream: hit ? route.service! : this.defaultUpstream,
          bucket,
          reason: `route ${route.name} is a ${route.weight}% canary of group ${route.group}; this user's bucket ${(bucket / 100).toFixed(2)} is ${hit ? 'inside' : 'outside'} it`,
        };
      }
    }
  }
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}
