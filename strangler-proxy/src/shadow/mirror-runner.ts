import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { isSafeMethod } from '../resilience/upstream-failure.ts';
import type { PathPattern } from '../routing/path-pattern.ts';
import {
  compareResponses,
  compileRules,
  type ComparableResponse,
  type CompareRules,
  type CompareRulesSpec,
  type FieldDifference,
} from './compare-responses.ts';
import { decodeBody } from './decode-body.ts';
import { WatermarkClient, type FreshnessSpec } from './freshness.ts';
import { pathTemplate } from './path-template.ts';
import { REDACTED, redactBody, redactHeaders, redactJson, redactPath, type RedactionRules } from './redact.ts';
import type { ShadowExample } from './shadow-store.ts';

/** The field a mirror that got no answer is counted under: never noise, always the service's. */
export const NO_ANSWER = '(no answer)';

/** A request the monolith has answered, to be mirrored: plain data, so it can cross to a worker thread. */
export interface MirrorJob {
  id: number;
  route: string;
  shadow: { timeoutMs: number; noiseSampleRate: number; compare: CompareRulesSpec };
  method: string;
  /** Path and query as forwarded. */
  path: string;
  /** The headers the primary was sent with, plus the dry-run mark ("a copy; if it writes, roll it back"). */
  headers: Record<string, string | string[] | number | undefined>;
  body: Uint8Array;
  /** The monolith's answer, body whole. */
  primary: { status: number; headers: http.IncomingHttpHeaders; body: Uint8Array; ms: number };
  monolithUrl: string;
  targetUrl: string;
  /** The matched route's path pattern, for the template. */
  pattern: PathPattern;
  /** When the monolith's answer was handed over, epoch ms: the copy waits until the service's data has caught up with it. */
  answeredAt: number;
  /** Where to ask whether it has; undefined: sent at once. */
  freshness: FreshnessSpec | undefined;
}

/** What one mirror produced. */
export interface MirrorResult {
  id: number;
  route: string;
  template: string;
  outcome: 'mirrored' | 'failed';
  monolith: { status: number; ms: number };
  /** `status` null: the target did not answer. */
  service: { status: number | null; ms: number };
  differences: FieldDifference[];
  /** The answers differed, and the service's copy of the data could not be shown to be as new as the monolith's: not counted as a difference. */
  stale: boolean;
  /** The differences between two monolith answers, when this mirror measured noise. */
  noise: FieldDifference[] | undefined;
  /** A redacted example for each of the first few differing fields. */
  examples: Record<string, ShadowExample>;
  compareMs: number;
}

type Answer =
  { ok: true; status: number; headers: http.IncomingHttpHeaders; body: Buffer; ms: number } | { ok: false; error: string; ms: number };

const buffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * Sends a copy of a request to the route's target (and, for a share of reads, to the monolith a
 * second time, to measure noise), compares the answers with the monolith's, and describes the
 * result. Runs on the mirror worker thread, so none of it touches the proxy's event loop. Its own
 * connection pools, a timeout per copy and a cap on the answer's size bound what a slow or broken
 * target can cost.
 */
export class MirrorRunner {
  readonly #agents = new Map<string, http.Agent>();
  readonly #rules = new Map<string, CompareRules>();
  /** Each answer's body redacted once, however many of its fields get an example. */
  readonly #shown = new WeakMap<Buffer, string>();
  readonly #watermarks = new WatermarkClient();
  readonly #o: { maxSockets: number; maxBodyBytes: number; redaction: RedactionRules };

  constructor(o: { maxSockets: number; maxBodyBytes: number; redaction: RedactionRules }) {
    this.#o = o;
  }

  /**
   * Under writes, a copy can meet the service's data older than what the monolith answered from (the
   * replicator copies each write a few ms later), or newer (a write made since). So the copy first
   * waits for the replicator's watermark to pass the moment the monolith answered; a read whose
   * answers still differ is asked of both sides again (monolith, wait, service), and a field counts
   * only when it differed every time. A difference that goes away, or whose wait ran out, is stale.
   * Writes are dry runs that cannot be sent to the monolith twice: only the wait applies to them.
   */
  async run(job: MirrorJob): Promise<MirrorResult> {
    const fresh = job.freshness ? await this.#watermarks.wait(job.freshness, job.answeredAt) : 'unreplicated';
    const noise = isSafeMethod(job.method) && Math.random() < job.shadow.noiseSampleRate;
    const [service, again] = await Promise.all([this.#send(job.targetUrl, job), noise ? this.#send(job.monolithUrl, job) : undefined]);
    const t0 = performance.now();
    const key = JSON.stringify(job.shadow.compare);
    let rules = this.#rules.get(key);
    if (!rules) this.#rules.set(key, (rules = compileRules(job.shadow.compare)));
    const primaryBody = buffer(job.primary.body);
    const primary = await comparable(job.primary.status, job.primary.headers, primaryBody, rules);
    const compared: FieldDifference[] = service.ok
      ? compareResponses(primary, await comparable(service.status, service.headers, service.body, rules), rules)
      : [{ path: NO_ANSWER, field: NO_ANSWER, kind: 'missing', a: job.primary.status, b: service.error }];
    const noiseDifferences = again?.ok
      ? compareResponses(primary, await comparable(again.status, again.headers, again.body, rules), rules)
      : undefined;
    const compareMs = performance.now() - t0;
    // A target that failed is the target's fault whatever the data: never stale, never asked again.
    let lasting: ReadonlySet<string> | 'stale' = new Set(compared.map((d) => d.field));
    if (compared.length && service.ok && service.status < 500 && fresh !== 'unreplicated') {
      if (fresh === 'late') lasting = 'stale';
      else if (isSafeMethod(job.method)) lasting = await this.#askAgain(job, job.freshness!, rules, lasting);
    }
    const stale = lasting === 'stale';
    const differences = lasting === 'stale' ? [] : compared.filter((d) => (lasting as ReadonlySet<string>).has(d.field));
    const template = pathTemplate(job.path, job.pattern);
    const examples: Record<string, ShadowExample> = {};
    for (const field of [...new Set(differences.map((d) => d.field))].sort().slice(0, 3))
      examples[field] = this.#example(job, template, field, primaryBody, service, differences, rules);
    return {
      id: job.id,
      route: job.route,
      template,
      outcome: service.ok ? 'mirrored' : 'failed',
      monolith: { status: job.primary.status, ms: job.primary.ms },
      service: { status: service.ok ? service.status : null, ms: service.ms },
      differences,
      stale,
      noise: noiseDifferences,
      examples,
      compareMs,
    };
  }

  /**
   * A read whose answers differed, asked again up to `retries` times: the monolith, the wait for
   * the watermark to pass its answer, the service. Returns the fields that differed every time, or
   * `stale` when none did (or a wait ran out).
   */
  async #askAgain(
    job: MirrorJob,
    f: FreshnessSpec,
    rules: CompareRules,
    fields: ReadonlySet<string>,
  ): Promise<ReadonlySet<string> | 'stale'> {
    let lasting = fields;
    for (let i = 0; i < f.retries && lasting.size; i++) {
      const monolith = await this.#send(job.monolithUrl, job);
      if (!monolith.ok) break;
      if ((await this.#watermarks.wait(f, Date.now())) !== 'reached') return 'stale';
      const service = await this.#send(job.targetUrl, job);
      if (!service.ok) break;
      const now = compareResponses(
        await comparable(monolith.status, monolith.headers, monolith.body, rules),
        await comparable(service.status, service.headers, service.body, rules),
        rules,
      );
      const differing = new Set(now.map((d) => d.field));
      lasting = new Set([...lasting].filter((x) => differing.has(x)));
    }
    return lasting.size ? lasting : 'stale';
  }

  /** One copy of the request, bounded in time and size. */
  #send(base: string, job: MirrorJob): Promise<Answer> {
    const started = performance.now();
    const url = new URL(base);
    let agent = this.#agents.get(base);
    // As many idle sockets kept as may be busy: a pool that closes and reopens them costs more than the copies.
    if (!agent)
      this.#agents.set(
        base,
        (agent = new http.Agent({
          keepAlive: true,
          maxSockets: this.#o.maxSockets,
          maxFreeSockets: this.#o.maxSockets,
          scheduling: 'lifo',
        })),
      );
    const body = buffer(job.body);
    return new Promise<Answer>((resolve) => {
      const done = (a: Answer): void => {
        clearTimeout(timer);
        resolve(a);
      };
      const req = http.request(
        {
          protocol: url.protocol,
          hostname: url.hostname,
          port: url.port,
          method: job.method,
          path: job.path,
          agent,
          headers: { ...job.headers, 'content-length': String(body.length) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > this.#o.maxBodyBytes) {
              res.destroy();
              done({ ok: false, error: `answer larger than ${this.#o.maxBodyBytes} bytes`, ms: performance.now() - started });
            } else chunks.push(c);
          });
          res.on('end', () =>
            done({
              ok: true,
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
              ms: performance.now() - started,
            }),
          );
          res.on('error', (err) => done({ ok: false, error: err.message, ms: performance.now() - started }));
        },
      );
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${job.shadow.timeoutMs} ms`)), job.shadow.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, error: err.code ?? err.message, ms: performance.now() - started }));
      req.end(body);
    });
  }

  /** A stored example: request, both answers, differences — every secret redacted first. */
  #example(
    job: MirrorJob,
    template: string,
    field: string,
    primaryBody: Buffer,
    service: Answer,
    differences: FieldDifference[],
    rules: CompareRules,
  ): ShadowExample {
    const r = this.#o.redaction;
    const headersOf = (h: Record<string, unknown>): Record<string, string> => {
      const shown: Record<string, string | undefined> = {};
      for (const name of ['content-type', 'content-encoding', 'accept', 'location', ...rules.headers]) {
        const v = h[name];
        if (v !== undefined) shown[name] = Array.isArray(v) ? v.join(', ') : String(v);
      }
      return redactHeaders(shown, r);
    };
    const ms = (n: number): number => Math.round(n * 10) / 10;
    const shown = (body: Buffer): string => {
      let text = this.#shown.get(body);
      if (text === undefined) this.#shown.set(body, (text = redactBody(body, r)));
      return text;
    };
    return {
      route: job.route,
      template,
      field,
      at: new Date().toISOString(),
      request: { method: job.method, path: redactPath(job.path, r), headers: headersOf(job.headers) },
      monolith: { status: job.primary.status, headers: headersOf(job.primary.headers), body: shown(primaryBody), ms: ms(job.primary.ms) },
      service: service.ok
        ? { status: service.status, headers: headersOf(service.headers), body: shown(service.body), ms: ms(service.ms) }
        : { status: null, headers: {}, body: '', ms: ms(service.ms), error: service.error },
      differences: differences.map((d) => {
        // A value under any secret-named key is hidden whole, even when the key holding it is not.
        const secret = d.path.split(/[.[\]"]+/).some((k) => k && r.keys.test(k));
        const hide = (v: unknown): unknown => (secret ? REDACTED : redactJson(v, r));
        return { ...d, ...('a' in d ? { a: hide(d.a) } : {}), ...('b' in d ? { b: hide(d.b) } : {}) };
      }),
    };
  }

  close(): void {
    this.#watermarks.close();
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
  }
}

/** The answer as compared: the chosen headers only, the body decoded. */
async function comparable(
  status: number,
  headers: http.IncomingHttpHeaders,
  body: Buffer,
  rules: CompareRules,
): Promise<ComparableResponse> {
  const chosen: Record<string, string | undefined> = {};
  for (const name of rules.headers) {
    const v = headers[name];
    chosen[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  const encoding = headers['content-encoding'];
  return { status, headers: chosen, body: encoding ? ((await decodeBody(body, encoding)) ?? body) : body };
}
