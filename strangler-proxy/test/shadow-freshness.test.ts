import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, type RouteReport } from '../src/shadow/shadow-report.ts';
import { JsonUpstream } from './support/json-upstream.ts';
import { startTestProxy, type TestProxy } from './support/proxy-harness.ts';

/** A replicator's status listener as the proxy sees it: `/watermark` reached at once, never, or not replicated (404). */
class FakeReplicator {
  mode: 'reached' | 'late' | 'unreplicated' = 'reached';
  readonly asked: { service: string; at: number; waitMs: number; when: number }[] = [];
  url = '';
  readonly #server = http.createServer((req, res) => {
    const q = new URL(req.url!, 'http://x').searchParams;
    const at = Number(q.get('at'));
    const waitMs = Number(q.get('waitMs'));
    this.asked.push({ service: q.get('service')!, at, waitMs, when: Date.now() });
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (this.mode === 'unreplicated') return send(404, { error: { code: 'not_found', message: 'not replicated' } });
    if (this.mode === 'late')
      return void setTimeout(() => send(200, { service: q.get('service'), at, watermark: at - 5_000, reached: false }), waitMs);
    send(200, { service: q.get('service'), at, watermark: at, reached: true });
  });

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
  }
}

let monolith: JsonUpstream;
let service: JsonUpstream;
let replicator: FakeReplicator;
let proxy: TestProxy | undefined;

beforeAll(async () => {
  [monolith, service, replicator] = await Promise.all([
    new JsonUpstream('monolith').start(),
    new JsonUpstream('service').start(),
    new FakeReplicator().start(),
  ]);
});
afterAll(async () => {
  await Promise.all([monolith?.close(), service?.close(), replicator?.close()]);
});
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  monolith.behaviour = {};
  service.behaviour = {};
  monolith.seen.length = 0;
  service.seen.length = 0;
  replicator.asked.length = 0;
  replicator.mode = 'reached';
});

const shadowTable = (shadow: string): string => `version: 1
upstreams:
  monolith: { url: ${monolith.url} }
  things: { url: ${service.url} }
routes:
  - name: things
    match: { path: /api/things/* }
    mode: shadow
    target: things
    shadow: { noise: { sampleRate: 0 }, ignore: ["$.servedAt", "$.requestId"], ${shadow} }
default: monolith
`;

const start = (shadow: string): Promise<TestProxy> => startTestProxy(shadowTable(shadow), { SYNC_STATUS_URL: replicator.url });

async function settled(p: TestProxy): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (p.shadowing.mirror.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

async function report(p: TestProxy): Promise<RouteReport> {
  await settled(p);
  await p.shadowing.recorder.flush();
  return buildReport(await p.shadowing.results.counters({}), p.shadowing.settingsOf)[0]!;
}

const reads = async (p: TestProxy, ids: number[]): Promise<void> => {
  for (const id of ids) expect((await fetch(`${p.url}/api/things/${id}`)).status).toBe(200);
};
const ids = Array.from({ length: 10 }, (_, i) => i + 1);
const bumpTitle = (d: Record<string, unknown>): Record<string, unknown> => ({ ...d, title: `${String(d.title)}!` });
const seenBy = (u: JsonUpstream, method: string): number => u.seen.filter((s) => s.method === method).length;

describe('shadow copies and the replicator’s watermark', () => {
  it('when the watermark never passes the moment the monolith answered, then differing reads are counted stale, not as differences, and matching ones still match', async () => {
    replicator.mode = 'late';
    service.behaviour = { transform: (d) => (Number(d.id) % 2 === 0 ? bumpTitle(d) : d) };
    proxy = await start('freshness: { waitMs: 100 }');
    const sent = Date.now();
    await reads(proxy, ids);
    const r = await report(proxy);
    expect([r.samples, r.stale, r.rawMatchRate, r.adjustedMismatchRate, r.adjustedMatchRate]).toEqual([10, 5, 0.5, 0, 1]);
    expect(r.fields).toEqual([]);
    // Each copy asked about the moment its answer was handed over, plus the clock margin; none was asked again.
    expect(replicator.asked.every((a) => a.service === 'things' && a.waitMs === 100 && a.at >= sent + 10)).toBe(true);
    expect(seenBy(monolith, 'GET')).toBe(10);
    expect(await proxy.metrics.registry.metrics()).toMatch(/strangler_shadow_comparisons_total\{route="things",result="stale"\} 5/);
  });

  it('when a read differs only the first time (the service’s data moved on) and matches when both sides are asked again, then it is stale', async () => {
    const once = new Set<string>();
    service.behaviour = { transform: (d, path) => (once.has(path) ? d : (once.add(path), bumpTitle(d))) };
    proxy = await start('freshness: { waitMs: 500, retries: 2 }');
    await reads(proxy, ids);
    const r = await report(proxy);
    expect([r.samples, r.stale, r.adjustedMismatchRate]).toEqual([10, 10, 0]);
    expect(r.fields).toEqual([]);
    // One more answer of each side per read: the first ask again matched.
    expect([seenBy(monolith, 'GET'), seenBy(service, 'GET')]).toEqual([20, 20]);
  });

  it('when a read differs every time it is asked, then the field is the service’s: reported, nothing stale', async () => {
    service.behaviour = { transform: bumpTitle };
    proxy = await start('freshness: { waitMs: 500, retries: 2 }');
    await reads(proxy, ids);
    const r = await report(proxy);
    expect([r.samples, r.stale]).toEqual([10, 0]);
    expect(r.fields.filter((f) => f.reported).map((f) => [f.field, f.diffs])).toEqual([['$.title', 10]]);
    expect([seenBy(monolith, 'GET'), seenBy(service, 'GET')]).toEqual([30, 30]);
  });

  it('when a mirrored write differs, then it is never sent to the monolith again: counted after the wait, stale when the wait ran out', async () => {
    service.behaviour = { transform: bumpTitle };
    proxy = await start('writes: true, freshness: { waitMs: 100, retries: 2 }');
    const post = async (): Promise<void> => {
      expect(
        (await fetch(`${proxy!.url}/api/things/1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status,
      ).toBe(200);
    };
    await post();
    await post();
    await settled(proxy);
    replicator.mode = 'late';
    await post();
    const r = await report(proxy);
    expect([r.samples, r.stale]).toEqual([3, 1]);
    expect(r.fields.map((f) => [f.field, f.diffs])).toEqual([['$.title', 2]]);
    expect([seenBy(monolith, 'POST'), seenBy(service, 'POST')]).toEqual([3, 3]);
  });

  it('when the replicator does not copy the target’s data (404), then copies are compared at once and the replicator is not asked again for a while', async () => {
    replicator.mode = 'unreplicated';
    service.behaviour = { transform: bumpTitle };
    proxy = await start('');
    await reads(proxy, ids.slice(0, 1));
    await settled(proxy);
    await reads(proxy, ids.slice(1));
    const r = await report(proxy);
    expect([r.samples, r.stale]).toEqual([10, 0]);
    expect(r.fields.filter((f) => f.reported).map((f) => f.field)).toEqual(['$.title']);
    expect(replicator.asked.length).toBe(1);
    expect([seenBy(monolith, 'GET'), seenBy(service, 'GET')]).toEqual([10, 10]);
  });
});
