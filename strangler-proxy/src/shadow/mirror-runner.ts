import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Pool, type Dispatcher } from 'undici';
import { isSafeMethod } from '../resilience/upstream-failure.ts';
import { compareResponses, type ComparableResponse, type CompareRules, type FieldDifference } from './compare-responses.ts';
import { decodeBody } from './decode-body.ts';
import { WatermarkClient, type FreshnessSpec } from './freshness.ts';
import type { MirrorRoute, ResultDetail } from './mirror-wire.ts';
import { pathTemplate } from './path-template.ts';
import { REDACTED, redactBody, redactHeaders, redactJson, redactPath, type RedactionRules } from './redact.ts';
import type { ShadowExample } from './shadow-store.ts';

/** The field a mirror that got no answer is counted under: never noise, always the service's. */
export const NO_ANSWER = '(no answer)';

/** A request the monolith has answered, to be mirrored, as the worker holds it. */
export interface MirrorJob {
  id: number;
  route: MirrorRoute;
  /** The route's compare rules, compiled once per route table. */
  rules: CompareRules;
  method: string;
  /** Path and query as forwarded. */
  path: string;
  /** The headers the primary was sent with, plus the dry-run mark ("a copy; if it writes, roll it back"). */
  headers: Record<string, string | string[] | number | undefined>;
  body: Buffer;
  /** The monolith's answer, body whole. */
  primary: { status: number; headers: IncomingHttpHeaders; body: Buffer; ms: number };
  /** When the monolith's answer was handed over, epoch ms: the copy waits until the service's data has caught up with it. */
  answeredAt: number;
}

/** What one mirror produced. */
export interface MirrorResult extends ResultDetail {
  id: number;
  template: string;
  outcome: 'mirrored' | 'failed';
  /** `status` null: the target did not answer. */
  service: { status: number | null; ms: number };
  stale: boolean;
  compareMs: number;
}

/**
 * A copy's answer. `same`: its body arrived byte for byte the one it was held against (then `body`
 * is that one: an identical answer is never buffered twice).
 */
type Answer =
  | { ok: true; status: number; headers: IncomingHttpHeaders; body: Buffer; same: boolean; ms: number }
  | { ok: false; error: string; ms: number };

/**
 * Sends a copy of a request to the route's target (and, for a share of reads, to the monolith a
 * second time, to measure noise), compares the answers with the monolith's, and describes the
 * result. Runs on the mirror worker thread, so none of it touches the proxy's event loop. Its own
 * connection pools (undici, as the proxy's), a timeout per copy and a cap on the answer's size
 * bound what a slow or broken target can cost. A copy is held against the monolith's answer as it
 * arrives: an identical one — the usual case once a service is right — is known as its last byte
 * comes, without being buffered, decoded or parsed.
 */
export class MirrorRunner {
  readonly #pools = new Map<string, Pool>();
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
    const { route, rules, primary: p } = job;
    const fresh = route.freshness ? await this.#watermarks.wait(route.freshness, job.answeredAt) : 'unreplicated';
    const noise = isSafeMethod(job.method) && Math.random() < route.noiseSampleRate;
    const [service, again] = await Promise.all([
      this.#send(route.targetUrl, job, p.body),
      noise ? this.#send(route.monolithUrl, job, p.body) : undefined,
    ]);
    const t0 = performance.now();
    let primary: ComparableResponse | undefined;
    const against = async (a: Answer & { ok: true }): Promise<FieldDifference[]> => {
      // The monolith's bytes in the monolith's encoding: nothing to decode, the bodies compare equal at once.
      const encoding = (h: IncomingHttpHeaders): string => String(h['content-encoding'] ?? '');
      if (a.same && encoding(a.headers) === encoding(p.headers))
        return compareResponses(chosen(p.status, p.headers, p.body, rules), chosen(a.status, a.headers, a.body, rules), rules);
      primary ??= await comparable(p.status, p.headers, p.body, rules);
      return compareResponses(primary, await comparable(a.status, a.headers, a.body, rules), rules);
    };
    const compared: FieldDifference[] = service.ok
      ? await against(service)
      : [{ path: NO_ANSWER, field: NO_ANSWER, kind: 'missing', a: p.status, b: service.error }];
    const noiseDifferences = again?.ok ? await against(again) : undefined;
    const compareMs = performance.now() - t0;
    // A target that failed is the target's fault whatever the data: never stale, never asked again.
    let lasting: ReadonlySet<string> | 'stale' = new Set(compared.map((d) => d.field));
    if (compared.length && service.ok && service.status < 500 && fresh !== 'unreplicated') {
      if (fresh === 'late') lasting = 'stale';
      else if (isSafeMethod(job.method)) lasting = await this.#askAgain(job, route.freshness!, rules, lasting);
    }
    const stale = lasting === 'stale';
    const differences = lasting === 'stale' ? [] : compared.filter((d) => (lasting as ReadonlySet<string>).has(d.field));
    const template = pathTemplate(job.path, route.pattern);
    const examples: Record<string, ShadowExample> = {};
    for (const field of [...new Set(differences.map((d) => d.field))].sort().slice(0, 3))
      examples[field] = this.#example(job, template, field, service, differences, rules);
    return {
      id: job.id,
      template,
      outcome: service.ok ? 'mirrored' : 'failed',
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
      const monolith = await this.#send(job.route.monolithUrl, job);
      if (!monolith.ok) break;
      if ((await this.#watermarks.wait(f, Date.now())) !== 'reached') return 'stale';
      const service = await this.#send(job.route.targetUrl, job);
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

  /** One copy of the request, bounded in time and size; its body held against `expected` as it arrives, when given. */
  #send(base: string, job: MirrorJob, expected?: Buffer): Promise<Answer> {
    let pool = this.#pools.get(base);
    // As many connections kept as may be busy: a pool that closes and reopens them costs more than the copies.
    if (!pool)
      this.#pools.set(
        base,
        (pool = new Pool(new URL(base).origin, { connections: this.#o.maxSockets, headersTimeout: 0, bodyTimeout: 0 })),
      );
    return new Promise<Answer>((resolve) => {
      const copy = new Copy(expected, this.#o.maxBodyBytes, job.route.timeoutMs, resolve);
      try {
        pool.dispatch(
          {
            path: job.path,
            method: job.method as Dispatcher.HttpMethod,
            headers: { ...job.headers, 'content-length': String(job.body.length) } as Dispatcher.DispatchOptions['headers'],
            body: job.body.length ? job.body : null,
          },
          copy,
        );
      } catch (err) {
        copy.fail(reasonOf(err as Error));
      }
    });
  }

  /** A stored example: request, both answers, differences — every secret redacted first. */
  #example(
    job: MirrorJob,
    template: string,
    field: string,
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
      route: job.route.route,
      template,
      field,
      at: new Date().toISOString(),
      request: { method: job.method, path: redactPath(job.path, r), headers: headersOf(job.headers) },
      monolith: {
        status: job.primary.status,
        headers: headersOf(job.primary.headers),
        body: shown(job.primary.body),
        ms: ms(job.primary.ms),
      },
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
    for (const p of this.#pools.values()) void p.destroy();
    this.#pools.clear();
  }
}

/** The answer as compared, body as it came: the chosen headers only. */
function chosen(status: number, headers: IncomingHttpHeaders, body: Buffer, rules: CompareRules): ComparableResponse {
  const picked: Record<string, string | undefined> = {};
  for (const name of rules.headers) {
    const v = headers[name];
    picked[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  return { status, headers: picked, body };
}

/** The answer as compared: the chosen headers only, the body decoded. */
async function comparable(status: number, headers: IncomingHttpHeaders, body: Buffer, rules: CompareRules): Promise<ComparableResponse> {
  const encoding = headers['content-encoding'];
  return chosen(status, headers, encoding ? ((await decodeBody(body, encoding)) ?? body) : body, rules);
}

/** What a failed copy is reported as: the system's or undici's code when there is one, else the message. */
const reasonOf = (err: Error): string => (err as NodeJS.ErrnoException).code ?? err.message;

/**
 * One copy in flight, as undici's dispatch handler. Its body is checked against the expected one
 * chunk by chunk; only once it departs from it are bytes kept (the equal part taken from the
 * expected body), so an identical answer costs no copy at all.
 */
class Copy implements Dispatcher.DispatchHandler {
  readonly #expected: Buffer | undefined;
  readonly #max: number;
  readonly #resolve: (a: Answer) => void;
  readonly #started = performance.now();
  readonly #timer: NodeJS.Timeout;
  #controller: Dispatcher.DispatchController | undefined;
  #settled = false;
  #status = 0;
  #headers: IncomingHttpHeaders = {};
  /** Bytes received that matched the expected body so far; undefined once they departed from it. */
  #matched: number | undefined;
  #chunks: Buffer[] = [];
  #size = 0;

  constructor(expected: Buffer | undefined, max: number, timeoutMs: number, resolve: (a: Answer) => void) {
    this.#expected = expected;
    this.#matched = expected ? 0 : undefined;
    this.#max = max;
    this.#resolve = resolve;
    this.#timer = setTimeout(() => this.#abort(`no answer within ${timeoutMs} ms`), timeoutMs);
  }

  #settle(a: Answer): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#resolve(a);
  }

  fail(error: string): void {
    this.#settle({ ok: false, error, ms: performance.now() - this.#started });
  }

  #abort(error: string): void {
    this.fail(error);
    this.#controller?.abort(new Error(error));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#settled) controller.abort(new Error('given up'));
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>): void {
    this.#status = statusCode;
    this.#headers = headers as IncomingHttpHeaders;
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled) return;
    this.#size += chunk.length;
    if (this.#size > this.#max) return this.#abort(`answer larger than ${this.#max} bytes`);
    const at = this.#matched;
    if (at !== undefined) {
      const e = this.#expected!;
      if (at + chunk.length <= e.length && chunk.equals(e.subarray(at, at + chunk.length))) {
        this.#matched = at + chunk.length;
        return;
      }
      // Departed from the expected body here: what matched so far is the expected body's start.
      this.#matched = undefined;
      if (at) this.#chunks.push(e.subarray(0, at));
    }
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    const e = this.#expected;
    const same = e !== undefined && this.#matched === e.length;
    const body = same ? e : this.#matched !== undefined ? e!.subarray(0, this.#matched) : Buffer.concat(this.#chunks, this.#size);
    this.#settle({ ok: true, status: this.#status, headers: this.#headers, body, same, ms: performance.now() - this.#started });
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.fail(reasonOf(err));
  }
}
