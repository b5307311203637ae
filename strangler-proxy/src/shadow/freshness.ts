import http from 'node:http';
import https from 'node:https';

/** What a mirror waits for: the replicator (`url`, its status listener) to have applied every change of `service` made before a moment. */
export interface FreshnessSpec {
  url: string;
  service: string;
  /** The longest wait, ms. */
  waitMs: number;
  /** Times a differing read is asked of both sides again. */
  retries: number;
  /** Added to every moment waited for, ms: how far the clocks may disagree. */
  marginMs: number;
}

/**
 * `reached`: every change made before the moment is in the service's copy. `late`: not within the
 * wait, or the replicator could not be asked (a copy's difference then proves nothing). `unreplicated`:
 * the replicator copies no data for this service, so there is nothing to wait for.
 */
export type Freshness = 'reached' | 'late' | 'unreplicated';

/** How long a service the replicator said it does not copy is taken at its word, ms. */
const UNREPLICATED_FOR_MS = 30_000;

/**
 * Asks the replicator's `/watermark` (a long poll) whether a service's copy has caught up with a
 * moment. The highest watermark seen is remembered per service, so a burst of copies answered
 * before it costs no request at all; so is a service not replicated, for a while.
 */
export class WatermarkClient {
  readonly #seen = new Map<string, number>();
  readonly #unreplicated = new Map<string, number>();
  readonly #agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 256 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 256 }),
  };

  /** Waits (up to `f.waitMs`) until every change of the service made before `at` (epoch ms, this clock) has been applied. */
  async wait(f: FreshnessSpec, at: number): Promise<Freshness> {
    const key = `${f.url}\u0000${f.service}`;
    const target = Math.ceil(at + f.marginMs);
    if ((this.#seen.get(key) ?? -Infinity) >= target) return 'reached';
    if ((this.#unreplicated.get(key) ?? 0) > Date.now()) return 'unreplicated';
    const answer = await this.#ask(f, target);
    if (answer === undefined) return 'late';
    if (answer === 'unreplicated') {
      this.#unreplicated.set(key, Date.now() + UNREPLICATED_FOR_MS);
      return answer;
    }
    if (answer.watermark !== null && answer.watermark > (this.#seen.get(key) ?? -Infinity)) this.#seen.set(key, answer.watermark);
    return answer.reached ? 'reached' : 'late';
  }

  #ask(f: FreshnessSpec, at: number): Promise<{ reached: boolean; watermark: number | null } | 'unreplicated' | undefined> {
    const url = new URL(`${f.url}/watermark`);
    url.searchParams.set('service', f.service);
    url.searchParams.set('at', String(at));
    url.searchParams.set('waitMs', String(f.waitMs));
    const secure = url.protocol === 'https:';
    return new Promise((resolve) => {
      const req = (secure ? https : http).get(
        url,
        { agent: secure ? this.#agents.https : this.#agents.http, timeout: f.waitMs + 1_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', () => resolve(undefined));
          res.on('end', () => {
            if (res.statusCode === 404) return resolve('unreplicated');
            if (res.statusCode !== 200) return resolve(undefined);
            try {
              const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { reached?: unknown; watermark?: unknown };
              resolve({ reached: body.reached === true, watermark: typeof body.watermark === 'number' ? body.watermark : null });
            } catch {
              resolve(undefined);
            }
          });
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(undefined));
    });
  }

  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }
}
