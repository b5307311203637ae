import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DRY_RUN_HEADER } from '@strangler/service-kit/dry-run';
import { REDACT_PATHS } from '@strangler/service-kit/logger';
import { BODY_RING_BYTES } from '../src/shadow/mirror-wire.ts';
import { buildReport, type RouteReport } from '../src/shadow/shadow-report.ts';
import { JsonUpstream } from './support/json-upstream.ts';
import { ADMIN_AUTH, startTestProxy, type TestProxy } from './support/proxy-harness.ts';

let monolith: JsonUpstream;
let service: JsonUpstream;
let proxy: TestProxy | undefined;

beforeAll(async () => {
  [monolith, service] = await Promise.all([new JsonUpstream('monolith').start(), new JsonUpstream('service').start()]);
});
afterAll(async () => {
  await Promise.all([monolith?.close(), service?.close()]);
});
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  monolith.behaviour = {};
  service.behaviour = {};
});

/** A table shadowing /api/things/* to the service, with `shadow` options and the service's `upstream` settings (YAML flow map bodies). */
const shadowTable = (shadow = '', route = '/api/things/*', upstream = ''): string => `version: 1
upstreams:
  monolith: { url: ${monolith.url} }
  things: { url: ${service.url}${upstream ? `, ${upstream}` : ''} }
routes:
  - name: things
    match: { path: ${route} }
    mode: shadow
    target: things
    shadow: { ${shadow} }
default: monolith
`;

/** Sends `n` requests, `concurrency` at a time; every answer must be the monolith's, complete. */
async function load(n: number, concurrency: number, request: (i: number) => Promise<Response>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const res = await request(i);
        const body = await res.text();
        if (res.status !== 200 || res.headers.get('x-served-by') !== 'monolith' || !body.includes('"title"'))
          throw new Error(`request ${i}: ${res.status} ${body.slice(0, 100)}`);
      }
    }),
  );
}

/** Waits until the mirrors in flight are done and the results stored, then reports. */
async function report(p: TestProxy): Promise<RouteReport> {
  const deadline = Date.now() + 10_000;
  while (p.shadowing.mirror.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await p.shadowing.recorder.flush();
  const [r] = buildReport(await p.shadowing.results.counters({}), p.shadowing.settingsOf);
  return r!;
}

const metric = async (p: TestProxy, pattern: RegExp): Promise<number> => Number(pattern.exec(await p.metrics.registry.metrics())?.[1] ?? 0);

describe('shadow mode', () => {
  it('when the service answers as the monolith does, then 10 000 mirrored requests report no field; the volatile fields are cancelled as noise', async () => {
    proxy = await startTestProxy(shadowTable('sampleRate: 1, noise: { sampleRate: 0.1 }'), { SHADOW_MAX_IN_FLIGHT: '10000' });
    await load(10_000, 32, (i) => fetch(`${proxy!.url}/api/things/${i % 50}`));
    const r = await report(proxy);
    expect(r.samples).toBe(10_000);
    expect(await metric(proxy, /strangler_shadow_requests_total\{route="things",outcome="mirrored"\} (\d+)/)).toBe(10_000);
    expect(r.fields.filter((f) => f.reported)).toEqual([]);
    expect(r.fields.map((f) => f.field).sort()).toEqual(['$.requestId', '$.servedAt']);
    expect(r.rawMatchRate).toBeLessThan(0.01);
    expect(r.adjustedMismatchRate).toBe(0);
    expect(r.noiseSamples).toBeGreaterThan(800);
    // Every sample matches once noise is cancelled: the confident match rate is near 1. (The score
    // also weighs latency, which this loaded machine makes noisy: it is not what this test is about.)
    expect(r.readiness.matchLowerBound).toBeGreaterThan(0.999);
    expect(r.readiness.errorRateDelta).toBe(0);
    expect(await metric(proxy, /strangler_shadow_readiness\{route="things"\} ([\d.]+)/)).toBeGreaterThan(0);
  }, 60_000);

  it('when the service has a one-field bug on some paths, then every affected request is caught and the field named by its path', async () => {
    proxy = await startTestProxy(shadowTable('sampleRate: 1'), { SHADOW_MAX_IN_FLIGHT: '10000' });
    service.behaviour = {
      transform: (d) =>
        Number(d.id) % 3 === 0 ? { ...d, price: { ...(d.price as object), cents: Number((d.price as { cents: number }).cents) + 1 } } : d,
    };
    await load(600, 16, (i) => fetch(`${proxy!.url}/api/things/${i}`));
    const r = await report(proxy);
    const bug = r.fields.find((f) => f.field === '$.price.cents')!;
    expect(bug).toMatchObject({ template: '/api/things/:id', diffs: 200, reported: true, diffRate: 200 / 600 });
    expect(r.fields.filter((f) => f.reported).map((f) => f.field)).toEqual(['$.price.cents']);
    expect(r.adjustedMismatchRate).toBeCloseTo(200 / 600, 6);
    const [example] = await proxy.shadowing.results.examples({ route: 'things', field: '$.price.cents' });
    expect(example!.differences).toContainEqual(
      expect.objectContaining({
        path: '$.price.cents',
        kind: 'changed',
        b: (example!.differences.find((d) => d.path === '$.price.cents')!.a as number) + 1,
      }),
    );
  });

  it('when the target is 5 s slow, then every answer is the monolith’s, complete, while the copies are still pending; they time out, are counted, and leave no socket open', async () => {
    proxy = await startTestProxy(shadowTable('sampleRate: 1, timeoutMs: 400'), { SHADOW_MAX_IN_FLIGHT: '16' });
    service.behaviour = { delayMs: 5_000 };
    await load(300, 16, (i) => fetch(`${proxy!.url}/api/things/${i}`));
    // The clients all have their answers; the copies are not answered yet.
    expect(proxy.shadowing.mirror.inFlight).toBeGreaterThan(0);
    expect(proxy.shadowing.mirror.inFlight).toBeLessThanOrEqual(16);
    expect(await metric(proxy, /strangler_shadow_requests_total\{route="things",outcome="dropped_queue_full"\} (\d+)/)).toBeGreaterThan(0);
    const r = await report(proxy);
    expect(proxy.shadowing.mirror.inFlight).toBe(0);
    expect(r.service.errors).toBe(r.samples);
    expect(r.fields.find((f) => f.field === '(no answer)')).toMatchObject({ reported: true });
    const deadline = Date.now() + 3_000;
    while (service.connections > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(service.connections).toBe(0);
  });

  it('when answered copies free their places before their results come back, then no place is lost and the bound still holds once the target turns slow', async () => {
    // The slow copies time out after 2 s: the 30 requests of the slow part are all over by then, however loaded the machine.
    proxy = await startTestProxy(shadowTable('sampleRate: 1, timeoutMs: 2000'), { SHADOW_MAX_IN_FLIGHT: '2' });
    const gauge = (): Promise<number> => metric(proxy!, /strangler_shadow_in_flight (-?\d+)/);
    const count = (outcome: string): Promise<number> =>
      metric(proxy!, new RegExp(`strangler_shadow_requests_total\\{route="things",outcome="${outcome}"\\} (\\d+)`));
    // One at a time, the next once the copy is made (its result may still be on its way back): every
    // copy finds a place.
    for (let i = 0; i < 40; i++) {
      await load(1, 1, () => fetch(`${proxy!.url}/api/things/${i}`));
      const deadline = Date.now() + 5_000;
      while ((await gauge()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    }
    await report(proxy);
    expect([await count('mirrored'), await count('dropped_queue_full')]).toEqual([40, 0]);
    expect(await gauge()).toBe(0);
    // Those 40 counted off once each: with the target slow, two copies at a time, the rest shed.
    service.behaviour = { delayMs: 5_000 };
    await load(30, 6, (i) => fetch(`${proxy!.url}/api/things/${i}`));
    expect(await gauge()).toBe(2);
    expect(proxy.shadowing.mirror.inFlight).toBe(2);
    expect(await count('dropped_queue_full')).toBe(28);
    await report(proxy);
    expect(await count('failed')).toBe(2);
  });

  it('when the target resets every connection, then every answer is the monolith’s and the failures are counted as the service’s errors', async () => {
    proxy = await startTestProxy(shadowTable('sampleRate: 1'));
    service.behaviour = { reset: true };
    await load(300, 16, (i) => fetch(`${proxy!.url}/api/things/${i}`));
    const r = await report(proxy);
    expect(r.samples).toBeGreaterThan(0);
    expect([r.service.errors, r.monolith.errors]).toEqual([r.samples, 0]);
    expect(await metric(proxy, /strangler_shadow_requests_total\{route="things",outcome="failed"\} (\d+)/)).toBe(r.samples);
  });

  it('when the target stops answering, then copies stop being sent to it once its shadow breaker opens, its live breaker is left closed, and they resume once a probe is answered', async () => {
    proxy = await startTestProxy(shadowTable('sampleRate: 1', '/api/things/*', 'breaker: { volumeThreshold: 5, resetTimeoutMs: 3000 }'), {
      SHADOW_MAX_IN_FLIGHT: '16',
    });
    const count = (outcome: string): Promise<number> =>
      metric(proxy!, new RegExp(`strangler_shadow_requests_total\\{route="things",outcome="${outcome}"\\} (\\d+)`));
    const shadowBreaker = (): Promise<number> => metric(proxy!, /strangler_shadow_breaker_state\{upstream="things"\} (\d+)/);
    service.behaviour = { reset: true };
    await load(200, 1, (i) => fetch(`${proxy!.url}/api/things/${i}`));
    await report(proxy);
    const [failed, skipped, full] = [await count('failed'), await count('dropped_target_down'), await count('dropped_queue_full')];
    // Open at the fifth failure; the copies in flight by then (at most 16) still fail.
    expect(failed).toBeGreaterThanOrEqual(5);
    expect(failed).toBeLessThanOrEqual(5 + 16);
    // The rest were not sent: skipped once it opened, or shed while the first copies were still failing.
    expect(skipped).toBeGreaterThan(0);
    expect(failed + skipped + full).toBe(200);
    expect(await shadowBreaker()).toBe(2);
    expect(await metric(proxy, /strangler_breaker_state\{upstream="things"\} (\d+)/)).toBe(0);
    const described = (await (await fetch(`${proxy.adminUrl}/__strangler/routes`, { headers: ADMIN_AUTH })).json()) as {
      upstreams: Record<string, { breaker: string; shadowBreaker: string }>;
    };
    expect(described.upstreams.things).toMatchObject({ breaker: 'closed', shadowBreaker: 'open' });
    // The report says why its samples stopped growing.
    const paused = async (): Promise<unknown> =>
      (
        (await (await fetch(`${proxy!.adminUrl}/__strangler/shadow.json`, { headers: ADMIN_AUTH })).json()) as {
          routes: { paused: unknown }[];
        }
      ).routes[0]!.paused;
    expect(await paused()).toEqual({ target: 'things', breaker: 'open', probeEveryMs: 3000 });
    expect(await (await fetch(`${proxy.adminUrl}/__strangler/shadow/things`, { headers: ADMIN_AUTH })).text()).toContain(
      'Copies to <code>things</code> are paused on this proxy',
    );

    service.behaviour = {};
    const halfOpen = Date.now() + 5_000;
    while ((await shadowBreaker()) !== 1 && Date.now() < halfOpen) await new Promise((r) => setTimeout(r, 50));
    expect(await shadowBreaker()).toBe(1);
    // One probe: its answer closes the breaker.
    await load(1, 1, () => fetch(`${proxy!.url}/api/things/1`));
    await report(proxy);
    expect(await shadowBreaker()).toBe(0);
    expect(await paused()).toBeNull();
    expect(await count('mirrored')).toBe(1);
    // Then every copy again.
    const skippedBefore = await count('dropped_target_down');
    await load(50, 1, (i) => fetch(`${proxy!.url}/api/things/${i}`));
    await report(proxy);
    expect(await count('dropped_target_down')).toBe(skippedBefore);
    expect((await count('mirrored')) + (await count('dropped_queue_full')) - full).toBe(51);
    expect(await count('failed')).toBe(failed);
  });

  it('when a route does not opt in to writes, then none is mirrored; when it does, each goes with the dry-run header, and never twice to the monolith', async () => {
    proxy = await startTestProxy(shadowTable('sampleRate: 1, noise: { sampleRate: 1 }'));
    const [m0, s0] = [monolith.seen.length, service.seen.length];
    await load(20, 4, (i) =>
      fetch(`${proxy!.url}/api/things/${i}`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }),
    );
    await report(proxy);
    expect(service.seen.slice(s0).filter((s) => s.method === 'POST')).toHaveLength(0);
    await proxy.writeRoutes(shadowTable('sampleRate: 1, writes: true, noise: { sampleRate: 1 }'));
    await fetch(`${proxy.adminUrl}/__strangler/reload`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-admin-token-0123456789' },
    });
    // The header's name written out, not imported: an outside client forging the marker, as an attacker would.
    await load(20, 4, (i) =>
      fetch(`${proxy!.url}/api/things/${i}`, {
        method: 'POST',
        body: '{"n":1}',
        headers: { 'content-type': 'application/json', 'x-strangler-shadow': '0' },
      }),
    );
    await report(proxy);
    const posts = service.seen.slice(s0).filter((s) => s.method === 'POST');
    expect(posts).toHaveLength(20);
    expect(posts.every((p) => /^1\.\d+\.[\w-]{43}$/.test(String(p.headers[DRY_RUN_HEADER])) && p.body === '{"n":1}')).toBe(true);
    // The monolith got each write once, and never the client's forged marker.
    const monolithPosts = monolith.seen.slice(m0).filter((s) => s.method === 'POST');
    expect(monolithPosts).toHaveLength(40);
    expect(monolithPosts.every((p) => p.headers[DRY_RUN_HEADER] === undefined)).toBe(true);
  });

  it('when a body is over the cap, then it is not mirrored and the drop is counted', async () => {
    proxy = await startTestProxy(shadowTable('sampleRate: 1, writes: true'), { SHADOW_MAX_BODY_BYTES: '2048' });
    await load(5, 1, () => fetch(`${proxy!.url}/api/things/1`, { method: 'PUT', body: 'x'.repeat(4096) }));
    monolith.behaviour = { padToBytes: 8_000 };
    await load(5, 1, () => fetch(`${proxy!.url}/api/things/2`));
    await report(proxy);
    expect(await metric(proxy, /strangler_shadow_requests_total\{route="things",outcome="dropped_body_too_large"\} (\d+)/)).toBe(10);
  });

  it('when the answers are gzip on one side and plain on the other, then they are compared decoded', async () => {
    proxy = await startTestProxy(shadowTable('sampleRate: 1, ignore: ["$.servedAt", "$.requestId"], headers: []'));
    monolith.behaviour = { gzip: true };
    await load(20, 4, (i) => fetch(`${proxy!.url}/api/things/${i}`));
    const r = await report(proxy);
    expect([r.samples, r.rawMatchRate]).toEqual([20, 1]);
  });

  it('when the answers are large and differ in one place, then the comparison (on the mirror worker) finds that place in each', async () => {
    proxy = await startTestProxy(shadowTable('sampleRate: 1, ignore: ["$.servedAt", "$.requestId"]'));
    monolith.behaviour = { padToBytes: 50_000 };
    service.behaviour = {
      padToBytes: 50_000,
      transform: (d) => ({ ...d, items: (d.items as object[]).map((x, i) => (i === 7 ? { ...x, text: 'changed' } : x)) }),
    };
    await load(20, 4, (i) => fetch(`${proxy!.url}/api/things/${i}`));
    const r = await report(proxy);
    expect(r.fields.filter((f) => f.reported).map((f) => [f.field, f.diffs])).toEqual([['$.items[*].text', 20]]);
    expect(await metric(proxy, /strangler_shadow_compare_seconds_count (\d+)/)).toBe(20);
  });

  it('when the answers are too large for the mirror worker’s body ring, then they go with the job’s message and are compared all the same', async () => {
    proxy = await startTestProxy(shadowTable('sampleRate: 1, writes: true, ignore: ["$.servedAt", "$.requestId"]'));
    const large = BODY_RING_BYTES / 4 + 100_000;
    monolith.behaviour = { padToBytes: large };
    service.behaviour = {
      padToBytes: large,
      transform: (d) => ({ ...d, items: (d.items as object[]).map((x, i) => (i === 3 ? { ...x, text: 'changed' } : x)) }),
    };
    const s0 = service.seen.length;
    await load(6, 2, (i) => fetch(`${proxy!.url}/api/things/${i}`, { method: 'PUT', body: `{"n":${i}}` }));
    const r = await report(proxy);
    expect(r.fields.filter((f) => f.reported).map((f) => [f.field, f.diffs])).toEqual([['$.items[*].text', 6]]);
    // The request bodies went with them, each its own.
    expect(
      service.seen
        .slice(s0)
        .map((s) => s.body)
        .sort(),
    ).toEqual(Array.from({ length: 6 }, (_, i) => `{"n":${i}}`).sort());
  });

  it('when secrets are planted in 1 000 mirrored requests and answers, then none is in the stored diffs, the logs or the report', async () => {
    let logs = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logs += chunk;
        cb();
      },
    });
    proxy = await startTestProxy(
      shadowTable('sampleRate: 1, writes: true, headers: [content-type, set-cookie]'),
      { SHADOW_MAX_IN_FLIGHT: '10000' },
      pino({ level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink),
    );
    const planted = (i: number): string => `SECRET-${i}-x9q`;
    service.behaviour = {
      transform: (d) => ({
        ...d,
        token: `SECRET-svc-${d.id}-x9q`,
        note: 'card 4111 1111 1111 1111',
        session: `v1.${'A'.repeat(20)}.${'B'.repeat(20)}`,
      }),
    };
    monolith.behaviour = { transform: (d) => ({ ...d, token: `SECRET-mono-${d.id}-x9q` }) };
    await load(1_000, 16, (i) =>
      fetch(`${proxy!.url}/api/things/${i}?token=${planted(i)}&page=2`, {
        method: i % 2 ? 'POST' : 'GET',
        body: i % 2 ? JSON.stringify({ email: 'a@b.example', password: planted(i), nested: { apiKey: planted(i) } }) : null,
        headers: {
          authorization: `Bearer ${planted(i)}`,
          cookie: `cacao_session=v1.${planted(i)}.sig${'c'.repeat(20)}; other=${planted(i)}`,
          'content-type': 'application/json',
        },
      }),
    );
    const r = await report(proxy);
    expect(r.samples).toBe(1_000);
    expect(r.fields.find((f) => f.field === '$.token')).toMatchObject({ reported: true });
    const stored = JSON.stringify(await proxy.shadowing.results.examples({ route: 'things', limit: 1000 }));
    expect(stored).toContain('[redacted]');
    const pages = [
      await (await fetch(`${proxy.adminUrl}/__strangler/`, { headers: ADMIN_AUTH })).text(),
      await (await fetch(`${proxy.adminUrl}/__strangler/shadow/things`, { headers: ADMIN_AUTH })).text(),
      JSON.stringify(await (await fetch(`${proxy.adminUrl}/__strangler/shadow.json`, { headers: ADMIN_AUTH })).json()),
    ];
    for (const e of await proxy.shadowing.results.examples({ route: 'things', limit: 1000 }))
      pages.push(await (await fetch(`${proxy.adminUrl}/__strangler/shadow/things/examples/${e.id}`, { headers: ADMIN_AUTH })).text());
    for (const [what, text] of [
      ['stored examples', stored],
      ['logs', logs],
      ['report pages', pages.join('\n')],
    ] as const) {
      expect(text, what).not.toMatch(/SECRET-|x9q|4111 1111|AAAAAAAAAAAAAAAAAAAA/);
    }
  }, 30_000);
});
