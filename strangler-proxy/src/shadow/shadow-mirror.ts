import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ProxyMetrics } from '../metrics/metrics.ts';
import type { UpstreamRegistry } from '../proxy/upstream-registry.ts';
import { isSafeMethod } from '../resilience/upstream-failure.ts';
import type { CompiledRoute, CompiledShadow } from '../routing/route-table.ts';
import type { ComparableResponse, FieldDifference } from './compare-responses.ts';
import type { ComparePool } from './compare-pool.ts';
import { decodeBody } from './decode-body.ts';
import { pathTemplate } from './path-template.ts';
import { redactBody, redactHeaders, redactJson, redactPath, type RedactionRules } from './redact.ts';
import { NO_ANSWER, type ShadowRecorder } from './shadow-recorder.ts';
import type { ShadowExample } from './shadow-store.ts';

/** The header on every mirrored request: "a copy; if it writes, roll it back" (the dry-run header). */
export const MIRROR_HEADER = 'x-strangler-shadow';

/** A request the monolith has answered, to be mirrored. */
export interface MirrorJob {
  route: CompiledRoute & { shadow: CompiledShadow };
  method: string;
  /** Path and query as forwarded. */
  path: string;
  /** The headers the primary was sent with. */
  headers: http.OutgoingHttpHeaders;
  body: Buffer;
  /** The monolith's answer, body whole (the caller drops jobs whose body was too large). */
  primary: { status: number; headers: http.IncomingHttpHeaders; body: Buffer; ms: number };
  /** Upstream names: the monolith (the default), and where the copy goes. */
  monolith: string;
  target: string;
}

/** A mirror's reserved place: run it once the monolith has answered, or cancel it. */
export interface MirrorSlot {
  /** Mirrors the job in the background; never throws. */
  run(job: MirrorJob): void;
  cancel(): void;
}

export interface MirrorDeps {
  upstreams: UpstreamRegistry;
  recorder: ShadowRecorder;
  pool: ComparePool;
  metrics: ProxyMetrics;
  redaction: RedactionRules;
  limits: MirrorLimits;
  log: Logger;
}

type Answer = { ok: true; status: number; headers: http.IncomingHttpHeaders; body: Buffer; ms: number } | { ok: false; error: string; ms: number };

export interface MirrorLimits {
  /** Mirrors in flight at once; more are dropped and counted (SHADOW_MAX_IN_FLIGHT, default 64). */
  maxInFlight: number;
  /** Largest request or response body compared, bytes (SHADOW_MAX_BODY_BYTES, default 1 MiB). */
  maxBodyBytes: number;
}

/**
 * Sends sampled copies of requests the monolith answered to the route's target (and, for a share
 * of reads, to the monolith a second time to measure noise), compares the answers and records the
 * result. Nothing here is on the client's path: the client already has the monolith's answer. Its
 * own connection pools, a bounded number of mirrors in flight (the rest dropped and counted), and a
 * timeout per mirror keep a slow or failing target from costing the proxy more than that.
 */
export class ShadowMirror {
  readonly #agents = new Map<string, http.Agent>();
  readonly deps: MirrorDeps;
  #inFlight = 0;
  #closed = false;

  constructor(deps: MirrorDeps) {
    this.deps = deps;
  }

  get limits(): MirrorLimits {
    return this.deps.limits;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * A place for one mirror, taken now (so the bound holds while the monolith answers), or undefined
   * with the drop counted. The slot is either run with the job or cancelled; both only once.
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
      run: (job) => {
        if (used) return;
        used = true;
        void this.#run(job)
          .catch((err: unknown) => this.deps.log.error({ route: job.route.name, error: (err as Error).message }, 'shadow comparison failed'))
          .finally(release);
      },
      cancel: () => {
        if (used) return;
        used = true;
        release();
      },
    };
  }

  /** Counts a mirror not sent: `queue_full`, or `body_too_large` (the request's or the monolith's answer). */
  drop(route: string, reason: 'queue_full' | 'body_too_large'): false {
    this.deps.metrics.shadowRequests.inc({ route, outcome: `dropped_${reason}` });
    return false;
  }

  async #run(job: MirrorJob): Promise<void> {
    const { shadow } = job.route;
    const noise = isSafeMethod(job.method) && Math.random() < shadow.noise.sampleRate;
    const [service, again] = await Promise.all([this.#send(job.target, job, shadow.timeoutMs), noise ? this.#send(job.monolith, job, shadow.timeoutMs) : undefined]);
    const outcome = service.ok ? 'mirrored' : 'failed';
    this.deps.metrics.shadowRequests.inc({ route: job.route.name, outcome });
    const t0 = performance.now();
    const primary = await this.#comparable(job.primary.status, job.primary.headers, job.primary.body, shadow);
    let differences: FieldDifference[];
    let where: 'inline' | 'worker' = 'inline';
    if (service.ok) {
      const r = await this.deps.pool.compare(primary, await this.#comparable(service.status, service.headers, service.body, shadow), shadow.compareSpec, shadow.rules);
      differences = r.differences;
      where = r.where;
    } else {
      differences = [{ path: NO_ANSWER, field: NO_ANSWER, kind: 'missing', a: job.primary.status, b: service.error }];
    }
    const noiseDifferences = again?.ok ? (await this.deps.pool.compare(primary, await this.#comparable(again.status, again.headers, again.body, shadow), shadow.compareSpec, shadow.rules)).differences : undefined;
    this.deps.metrics.shadowCompareSeconds.observe({ where }, (performance.now() - t0) / 1000);
    const template = pathTemplate(job.path);
    this.deps.recorder.record({
      route: job.route.name,
      template,
      monolith: { status: job.primary.status, ms: job.primary.ms },
      service: { status: service.ok ? service.status : null, ms: service.ms },
      differences,
      noise: noiseDifferences,
      example: (field) => this.#example(job, template, field, service, differences),
    });
  }

  /** The answer as compared: the chosen headers only, the body decoded. */
  async #comparable(status: number, headers: http.IncomingHttpHeaders, body: Buffer, shadow: CompiledShadow): Promise<ComparableResponse> {
    const chosen: Record<string, string | undefined> = {};
    for (const name of shadow.rules.headers) {
      const v = headers[name];
      chosen[name] = Array.isArray(v) ? v.join(', ') : v;
    }
    return { status, headers: chosen, body: (await decodeBody(body, headers['content-encoding'])) ?? body };
  }

  /** One copy of the request to `upstream`, bounded in time and size. */
  #send(upstream: string, job: MirrorJob, timeoutMs: number): Promise<Answer> {
    const started = performance.now();
    const u = this.deps.upstreams.get(upstream);
    let agent = this.#agents.get(upstream);
    if (!agent) this.#agents.set(upstream, (agent = new http.Agent({ keepAlive: true, maxSockets: this.deps.limits.maxInFlight, maxFreeSockets: 16 })));
    return new Promise<Answer>((resolve) => {
      const done = (a: Answer): void => {
        clearTimeout(timer);
        resolve(a);
      };
      const req = http.request(
        {
          protocol: u.url.protocol,
          hostname: u.url.hostname,
          port: u.url.port,
          method: job.method,
          path: job.path,
          agent,
          headers: { ...job.headers, [MIRROR_HEADER]: '1', 'content-length': String(job.body.length) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > this.deps.limits.maxBodyBytes) {
              res.destroy();
              done({ ok: false, error: `answer larger than ${this.deps.limits.maxBodyBytes} bytes`, ms: performance.now() - started });
            } else chunks.push(c);
          });
          res.on('end', () => done({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started }));
          res.on('error', (err) => done({ ok: false, error: err.message, ms: performance.now() - started }));
        },
      );
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, error: err.code ?? err.message, ms: performance.now() - started }));
      req.end(job.body);
    });
  }

  /** A stored example: request, both answers, differences — every secret redacted first. */
  #example(job: MirrorJob, template: string, field: string, service: Answer, differences: FieldDifference[]): ShadowExample {
    const r = this.deps.redaction;
    const headersOf = (h: http.IncomingHttpHeaders | http.OutgoingHttpHeaders): Record<string, string> => {
      const shown: Record<string, string | undefined> = {};
      for (const name of ['content-type', 'content-encoding', 'accept', 'location', ...job.route.shadow.rules.headers]) {
        const v = h[name];
        if (v !== undefined) shown[name] = Array.isArray(v) ? v.join(', ') : String(v);
      }
      return redactHeaders(shown, r);
    };
    return {
      route: job.route.name,
      template,
      field,
      at: new Date().toISOString(),
      request: { method: job.method, path: redactPath(job.path, r), headers: headersOf(job.headers) },
      monolith: { status: job.primary.status, headers: headersOf(job.primary.headers), body: redactBody(job.primary.body, r), ms: Math.round(job.primary.ms * 10) / 10 },
      service: service.ok
        ? { status: service.status, headers: headersOf(service.headers), body: redactBody(service.body, r), ms: Math.round(service.ms * 10) / 10 }
        : { status: null, headers: {}, body: '', ms: Math.round(service.ms * 10) / 10, error: service.error },
      differences: differences.map((d) => {
        // A value under any secret-named key is hidden whole, even when the key holding it is not.
        const secret = d.path.split(/[.[\]"]+/).some((key) => key && r.keys.test(key));
        return { ...d, ...('a' in d ? { a: secret ? '[redacted]' : redactJson(d.a, r) } : {}), ...('b' in d ? { b: secret ? '[redacted]' : redactJson(d.b, r) } : {}) };
      }),
    };
  }

  /** Stops taking mirrors; waits (up to `graceMs`) for those in flight; closes the pools. */
  async close(graceMs = 2_000): Promise<void> {
    this.#closed = true;
    const deadline = Date.now() + graceMs;
    while (this.#inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
  }
}
