import http from 'node:http';

export interface LoadResult {
  sent: number;
  /** One line per failed request: an error, or an answer `ok` refused. */
  failed: string[];
  /** Requests sent to each URL. */
  perTarget: number[];
}

/**
 * Requests at `rps` (a batch every 20 ms), round robin over `urls`, until stopped; each one a
 * failure when it errs or when `ok` refuses its answer. Bounded by the test that stops it.
 */
export function steadyLoad(
  urls: readonly string[],
  rps: number,
  o: {
    path: (i: number) => string;
    headers?: (i: number) => http.OutgoingHttpHeaders;
    ok?: (res: http.IncomingMessage) => boolean;
    maxSockets?: number;
  },
): { stop(): Promise<LoadResult> } {
  const agents = urls.map(() => new http.Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 32 }));
  const perTarget = urls.map(() => 0);
  const failed: string[] = [];
  let sent = 0;
  const pending = new Set<Promise<void>>();
  const one = (n: number, t: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const req = http.get(`${urls[t]}${o.path(n)}`, { agent: agents[t], headers: o.headers?.(n) ?? {} }, (res) => {
        res.resume();
        res.on('end', () => {
          if (o.ok && !o.ok(res)) failed.push(`${res.statusCode} from ${urls[t]}`);
          resolve();
        });
      });
      req.on('error', (err) => {
        failed.push(`${err.message} from ${urls[t]}`);
        resolve();
      });
    });
  const perTick = Math.max(1, Math.round(rps / 50));
  const timer = setInterval(() => {
    for (let k = 0; k < perTick; k++) {
      const n = sent++;
      const t = n % urls.length;
      perTarget[t]!++;
      const p = one(n, t).finally(() => pending.delete(p));
      pending.add(p);
    }
  }, 20);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      for (const a of agents) a.destroy();
      return { sent, failed, perTarget };
    },
  };
}
