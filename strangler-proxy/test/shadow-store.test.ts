import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createScratchDatabase, type ScratchDatabase } from '@strangler/stack';
import type {} from '@strangler/stack/testing/provided-context';
import { buildReport } from '../src/shadow/shadow-report.ts';
import { PostgresShadowStore } from '../src/shadow/shadow-store.ts';
import { JsonUpstream } from './support/json-upstream.ts';
import { ADMIN_AUTH, startTestProxy, type TestProxy } from './support/proxy-harness.ts';
import { runCli } from '@strangler/stack/testing';

let db: ScratchDatabase;
let monolith: JsonUpstream;
let service: JsonUpstream;
const proxies: TestProxy[] = [];

beforeAll(async () => {
  db = await createScratchDatabase(inject('pgServerUrl'), 'strangler_shadow');
  [monolith, service] = await Promise.all([new JsonUpstream('monolith').start(), new JsonUpstream('service').start()]);
  service.behaviour = { transform: (d) => ({ ...d, title: `${String(d.title)}!` }) };
  const table = `version: 1
upstreams:
  monolith: { url: ${monolith.url} }
  things: { url: ${service.url} }
routes:
  - name: things
    match: { path: /api/things/* }
    mode: shadow
    target: things
    shadow: { noise: { sampleRate: 0.5 } }
default: monolith
`;
  for (let i = 0; i < 2; i++) proxies.push(await startTestProxy(table, { STRANGLER_DATABASE_URL: db.url, SHADOW_MAX_IN_FLIGHT: '10000' }));
});
afterAll(async () => {
  for (const p of proxies) await p.close();
  await Promise.all([monolith?.close(), service?.close()]);
  await db?.drop();
});

describe('shadow results in PostgreSQL (database strangler)', () => {
  it('when two proxies shadow the same route, then the report sums the fleet, in the CLI and on each admin page', async () => {
    for (const p of proxies) for (let i = 0; i < 100; i++) await (await fetch(`${p.url}/api/things/${i}`)).text();
    for (const p of proxies) {
      while (p.shadowing.mirror.inFlight > 0) await new Promise((r) => setTimeout(r, 20));
      await p.shadowing.recorder.flush();
    }
    const json = await runCli(['report', '--json'], { STRANGLER_DATABASE_URL: db.url });
    expect(json.code, json.err).toBe(0);
    const [things] = JSON.parse(json.out).routes;
    expect(things).toMatchObject({ route: 'things', samples: 200, adjustedMismatchRate: 1 });
    expect(things.fields.filter((f: { reported: boolean }) => f.reported).map((f: { field: string }) => f.field)).toEqual(['$.title']);
    expect(things.examples.find((e: { field: string }) => e.field === '$.title').differences[0]).toMatchObject({
      path: '$.title',
      a: expect.stringMatching(/^Thing \d+$/),
      b: expect.stringMatching(/^Thing \d+!$/),
    });
    const text = await runCli(['report', 'things'], { STRANGLER_DATABASE_URL: db.url });
    expect(text.out).toMatch(
      /^route\s+samples\s+stale\s+match\s+mismatch\*\s+monolith p50\/p99\s+service p50\/p99\s+errors m\/s\s+readiness$/m,
    );
    expect(text.out).toMatch(/^things\s+200\s+0\s+0\.00 %\s+100\.00 %/m);
    expect(text.out).toMatch(
      /\$\.title {2}\/api\/things\/:id {2}100\.00 % of samples \(noise 0\.00 %\) {2}e\.g\. GET \/api\/things\/\d+: "Thing \d+" → "Thing \d+!"/,
    );
    expect(text.out).toContain('noise: $.requestId, $.servedAt');
    const page = await (await fetch(`${proxies[0]!.adminUrl}/__strangler/shadow.json`, { headers: ADMIN_AUTH })).json();
    expect(page).toMatchObject({ store: 'postgres', routes: [{ route: 'things', samples: 200 }] });
  });

  it('when latency buckets are stored as PostgreSQL reals, then the report still places each percentile within its bucket, to the hundredth', async () => {
    const store = await PostgresShadowStore.open(db.url);
    try {
      const lat = (side: 'monolith' | 'service', leMs: number) => ({ route: 'lat', template: '/lat', side, leMs, count: 10 });
      // Five hours back: outside the windows the other tests read, and pruned with their old minutes.
      const at = new Date(Date.now() - 5 * 3600_000);
      await store.add(at, {
        routes: [{ route: 'lat', template: '/lat', samples: 10, matches: 10, monolithErrors: 0, serviceErrors: 0, noiseSamples: 0 }],
        fields: [],
        signatures: [],
        // 1.1 has no exact float32: it reads back as 1.100000023…, still the bucket above 1.
        latency: [lat('monolith', 2), lat('service', 1.1)],
      });
      const [r] = buildReport(await store.counters({ route: 'lat', since: new Date(at.getTime() - 60_000) }));
      expect(r).toMatchObject({ monolith: { p50Ms: 1.9 }, service: { p50Ms: 1.05 } });
    } finally {
      await store.close();
    }
  });

  it('when asked --since, then older minutes are left out; pruning forgets them', async () => {
    const store = await PostgresShadowStore.open(db.url);
    try {
      await store.add(new Date(Date.now() - 2 * 3600_000), {
        routes: [{ route: 'old', template: '/x', samples: 5, matches: 5, monolithErrors: 0, serviceErrors: 0, noiseSamples: 0 }],
        fields: [],
        signatures: [],
        latency: [],
      });
      const recent = JSON.parse((await runCli(['report', '--json', '--since', '1h'], { STRANGLER_DATABASE_URL: db.url })).out);
      expect(recent.routes.map((r: { route: string }) => r.route)).toEqual(['things']);
      const all = JSON.parse((await runCli(['report', '--json', '--since', '3h'], { STRANGLER_DATABASE_URL: db.url })).out);
      expect(all.routes.map((r: { route: string }) => r.route)).toEqual(['old', 'things']);
      await store.prune(new Date(Date.now() - 3600_000));
      expect((await store.counters({})).routes.map((r) => r.route)).toEqual(['things']);
    } finally {
      await store.close();
    }
  });

  it('when the database or the duration is missing or wrong, then exit 2 saying what to give; an unknown route, exit 1', async () => {
    expect((await runCli(['report'])).err).toContain('give --db or set STRANGLER_DATABASE_URL');
    expect((await runCli(['report', '--since', 'yesterday'], { STRANGLER_DATABASE_URL: db.url })).code).toBe(2);
    const unknown = await runCli(['report', 'payments'], { STRANGLER_DATABASE_URL: db.url });
    expect([unknown.code, unknown.err.trim()]).toEqual([1, 'no shadow samples for route payments since 24h']);
  });

  it('when an example id is past what PostgreSQL can hold, then the admin answers 404, not 500', async () => {
    for (const id of ['99999999999999999999', '9223372036854775808']) {
      const res = await fetch(`${proxies[0]!.adminUrl}/__strangler/shadow/things/examples/${id}`, { headers: ADMIN_AUTH });
      expect(res.status, id).toBe(404);
      expect((await res.json()).error.code).toBe('not_found');
    }
  });
});
