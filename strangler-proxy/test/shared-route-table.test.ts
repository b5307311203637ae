import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { editGroup } from '../src/config/route-file.ts';
import { RouteDocuments, StaleRevisionError, storeClient } from '../src/config/route-documents.ts';
import { FakeUpstream } from './support/fake-upstream.ts';
import { startTestProxy, type TestProxy } from './support/proxy-harness.ts';
import { startTestRedis, type TestRedis } from './support/redis-server.ts';
import { steadyLoad } from './support/steady-load.ts';

/**
 * Three proxies on one shared store (a redis-server of the test's own, so it can be frozen), under
 * steady load through all three, while the table changes under them. The revision is polled every
 * 200 ms here (1 000 by default) so that an outage shows as `stale` within a second.
 */
const POLL_MS = 200;
let redis: TestRedis;
let monolith: FakeUpstream;
let service: FakeUpstream;
const proxies: TestProxy[] = [];
let docs: RouteDocuments;

const TABLE = (m: string, s: string): string => `version: 1
upstreams:
  monolith: { url: "${m}" }
  service: { url: "${s}" }
groups:
  catalog: { mode: monolith, target: service }
routes:
  - name: catalog
    group: catalog
    match: { path: /api/catalog/*, methods: [GET, HEAD] }
default: monolith
`;

beforeAll(async () => {
  redis = await startTestRedis();
  [monolith, service] = await Promise.all([new FakeUpstream('monolith').start(), new FakeUpstream('service').start()]);
  const env = { ROUTES_STORE_URL: redis.url, ROUTES_POLL_MS: String(POLL_MS) };
  // The first seeds the empty store from its file; the others find the table there.
  proxies.push(await startTestProxy(TABLE(monolith.url, service.url), env));
  proxies.push(...(await Promise.all([1, 2].map(() => startTestProxy(TABLE('http://127.0.0.1:9', 'http://127.0.0.1:9'), env)))));
  const client = storeClient(redis.url);
  await client.connect();
  docs = new RouteDocuments(client);
}, 30_000);

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  docs?.redis.disconnect();
  await Promise.all([monolith?.close(), service?.close()]);
  await redis?.close();
});

/** Requests at `rps` spread over every proxy until stopped; every answer but a 200 from an upstream is a failure. */
const load = (rps: number): ReturnType<typeof steadyLoad> =>
  steadyLoad(
    proxies.map((p) => p.url),
    rps,
    { path: (i) => `/api/catalog/${i}`, ok: (res) => res.statusCode === 200 && Boolean(res.headers['x-served-by']) },
  );

/** Milliseconds until every proxy serves `revision`. */
async function converged(revision: number, limitMs: number): Promise<number> {
  const t0 = performance.now();
  while (proxies.some((p) => p.store.current.version !== revision)) {
    if (performance.now() - t0 > limitMs) return Number.POSITIVE_INFINITY;
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now() - t0;
}

async function flip(mode: 'monolith' | 'service', reason: string): Promise<number> {
  const doc = (await docs.read())!;
  const written = await docs.write({
    basedOn: doc.revision,
    text: editGroup(doc.text, 'catalog', { mode }),
    actor: 'test',
    reason,
    kind: 'flip',
    group: 'catalog',
    diff: [`GET /api/catalog/:param → ${mode}`],
  });
  return written.revision;
}

describe('a shared route table over three proxies', () => {
  it('when the first proxy starts on an empty store, then it seeds it, and every proxy serves that table (not its own file)', async () => {
    const doc = await docs.read();
    expect(doc?.revision).toBe(1);
    const [seeded] = await docs.history();
    expect(seeded).toMatchObject({ revision: 1, kind: 'seed' });
    for (const p of proxies) {
      expect(p.store.current.version).toBe(1);
      expect(p.store.current.upstreams.get('monolith')?.url).toBe(monolith.url);
    }
  });

  it('when a read group is flipped 20 times under ~500 rps through all three, then no request fails and each flip reaches every proxy within 1 s', async () => {
    const traffic = load(500);
    const times: number[] = [];
    for (let i = 1; i <= 20; i++) {
      const revision = await flip(i % 2 ? 'service' : 'monolith', `flip ${i} of the convergence test`);
      times.push(await converged(revision, 5000));
      await new Promise((r) => setTimeout(r, 150));
    }
    const result = await traffic.stop();
    const sorted = [...times].sort((a, b) => a - b);
    console.log(
      `shared table convergence over 3 proxies, 20 flips: worst ${sorted.at(-1)!.toFixed(1)} ms, median ${sorted[10]!.toFixed(1)} ms; ` +
        `${result.sent} requests (${result.perTarget.join(' / ')} per proxy), ${result.failed.length} failed`,
    );
    expect(result.failed).toEqual([]);
    expect(result.perTarget.every((n) => n > 100)).toBe(true);
    expect(sorted.at(-1)!).toBeLessThanOrEqual(1000);
    // Both sides served while the group moved.
    expect(monolith.count('GET')).toBeGreaterThan(0);
    expect(service.count('GET')).toBeGreaterThan(0);
    const audit = await docs.history({ group: 'catalog', limit: 100 });
    expect(audit).toHaveLength(20);
    expect(audit.map((a) => a.reason)).toEqual(Array.from({ length: 20 }, (_, i) => `flip ${20 - i} of the convergence test`));
    expect(audit[0]!.from.revision).toBe(audit[0]!.to.revision - 1);
  }, 60_000);

  it('when a change is based on a revision that is no longer the store’s, then it is refused naming the newer one and who made it', async () => {
    const doc = (await docs.read())!;
    await flip('monolith', 'someone else first');
    const late = docs.write({ basedOn: doc.revision, text: doc.text, actor: 'late', reason: 'too late', kind: 'flip', diff: [] });
    await expect(late).rejects.toBeInstanceOf(StaleRevisionError);
    await expect(late).rejects.toThrow(
      new RegExp(`changed since revision ${doc.revision}: the store is at revision ${doc.revision + 1} \\(flip of catalog by test`),
    );
    expect((await docs.read())!.revision).toBe(doc.revision + 1);
  });

  it('when a change’s announcement is lost, then the revision poll still brings it to every proxy within two polls', async () => {
    const doc = (await docs.read())!;
    // The document changed as the write script changes it, but with no PUBLISH: as if every subscriber were away.
    const text = editGroup(doc.text, 'catalog', { mode: doc.text.includes('mode: service') ? 'monolith' : 'service' });
    await docs.redis.hset(`${docs.prefix}:doc`, 'revision', doc.revision + 1, 'text', text, 'hash', 'unannounced');
    const ms = await converged(doc.revision + 1, 5000);
    console.log(`unannounced change reached every proxy by polling in ${ms.toFixed(0)} ms (poll every ${POLL_MS} ms)`);
    expect(ms).toBeLessThanOrEqual(2 * POLL_MS + 100);
  });

  it('when a proxy stops, then it withdraws its report, so the fleet is judged on the proxies that are left', async () => {
    const extra = await startTestProxy(TABLE('http://127.0.0.1:9', 'http://127.0.0.1:9'), {
      ROUTES_STORE_URL: redis.url,
      ROUTES_POLL_MS: String(POLL_MS),
    });
    const id = (extra.store as unknown as { instanceId: string }).instanceId;
    while (!(await docs.fleet()).some((p) => p.id === id)) await new Promise((r) => setTimeout(r, 20));
    await extra.close();
    const deadline = Date.now() + 1000;
    while ((await docs.fleet()).some((p) => p.id === id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect((await docs.fleet()).map((p) => p.id)).not.toContain(id);
    expect(await docs.fleet()).toHaveLength(3);
  });

  it('when Redis answers nothing for 30 s under load, then no request fails, every proxy says its table may be stale, and all catch up within 5 s of its return', async () => {
    const before = (await docs.read())!;
    const traffic = load(300);
    redis.freeze();
    await new Promise((r) => setTimeout(r, 3000));
    for (const p of proxies) {
      expect(p.store.status()).toMatchObject({ kind: 'store', stale: true });
      expect(await p.metrics.registry.getSingleMetricAsString('strangler_config_stale')).toMatch(/strangler_config_stale 1$/m);
    }
    // A change made meanwhile: the writer's command waits in the frozen server's socket and is applied when it returns.
    const writer = new Redis(redis.url, { commandTimeout: 60_000 });
    const pendingWrite = new RouteDocuments(writer).write({
      basedOn: before.revision,
      text: editGroup(before.text, 'catalog', { mode: 'service' }),
      actor: 'test',
      reason: 'made during the outage',
      kind: 'flip',
      group: 'catalog',
      diff: [],
    });
    await new Promise((r) => setTimeout(r, 27_000));
    redis.thaw();
    const thawedAt = performance.now();
    const written = await pendingWrite;
    const caughtUp = await converged(written.revision, 10_000);
    while (proxies.some((p) => p.store.status().kind === 'store' && (p.store.status() as { stale: boolean }).stale)) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const fresh = performance.now() - thawedAt;
    const result = await traffic.stop();
    writer.disconnect();
    console.log(
      `Redis frozen 30 s: ${result.sent} requests, ${result.failed.length} failed; every proxy on the new revision ${caughtUp.toFixed(0)} ms and no longer stale ${fresh.toFixed(0)} ms after it returned`,
    );
    expect(result.failed).toEqual([]);
    expect(caughtUp).toBeLessThanOrEqual(5000);
    expect(fresh).toBeLessThanOrEqual(5000);
    for (const p of proxies) expect(await p.metrics.registry.getSingleMetricAsString('strangler_config_stale')).toMatch(/ 0$/m);
  }, 60_000);
});
