import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createScratchDatabase, type ScratchDatabase } from '@strangler/stack';
import type {} from '@strangler/stack/testing/provided-context';
import { REDACT_PATHS } from '@strangler/service-kit/logger';
import { buildReport, type RouteReport } from '../src/shadow/shadow-report.ts';
import { PostgresShadowStore } from '../src/shadow/shadow-store.ts';
import { JsonUpstream } from './support/json-upstream.ts';
import { startTestProxy, type TestProxy } from './support/proxy-harness.ts';

let db: ScratchDatabase;
let monolith: JsonUpstream;
let service: JsonUpstream;
let proxy: TestProxy | undefined;

beforeAll(async () => {
  db = await createScratchDatabase(inject('pgServerUrl'), 'strangler_shadow_bounds');
  [monolith, service] = await Promise.all([new JsonUpstream('monolith').start(), new JsonUpstream('service').start()]);
});
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  service.behaviour = {};
});
afterAll(async () => {
  await Promise.all([monolith?.close(), service?.close()]);
  await db?.drop();
});

/** A table shadowing `path` to the service as route `name` (each test its own route, so their counters stay apart). */
const shadowTable = (name: string, path = '/api/things/*'): string => `version: 1
upstreams:
  monolith: { url: ${monolith.url} }
  things: { url: ${service.url} }
routes:
  - name: ${name}
    match: { path: ${path} }
    mode: shadow
    target: things
    shadow: { sampleRate: 1 }
default: monolith
`;

/** Sends each path, `concurrency` at a time; every answer must be the monolith's. */
async function load(paths: readonly string[], concurrency = 16): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < paths.length) {
        const path = paths[next++]!;
        const res = await fetch(`${proxy!.url}${path}`);
        await res.text();
        if (res.status !== 200 || res.headers.get('x-served-by') !== 'monolith') throw new Error(`${path.slice(0, 80)}: ${res.status}`);
      }
    }),
  );
}

/** Waits for the mirrors in flight, stores what was recorded, and reports on `route` from PostgreSQL. */
async function report(p: TestProxy, route: string): Promise<RouteReport | undefined> {
  const deadline = Date.now() + 20_000;
  while (p.shadowing.mirror.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await p.shadowing.recorder.flush();
  return buildReport(await p.shadowing.results.counters({ route }), p.shadowing.settingsOf)[0];
}

const metric = async (p: TestProxy, pattern: RegExp): Promise<number> => Number(pattern.exec(await p.metrics.registry.metrics())?.[1] ?? 0);

/** `n` as letters only (a, b, …, ba, …): a segment the id heuristic does not take for an id. */
const letters = (n: number): string => (n < 26 ? '' : letters(Math.floor(n / 26) - 1)) + String.fromCharCode(97 + (n % 26));

/** `n` random letters: PostgreSQL cannot compress them below its index row limit, as it would `'a'.repeat(n)`. */
const randomLetters = (n: number): string =>
  Array.from({ length: n }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');

describe('shadow results that a long path cannot stop', () => {
  it('when one mirrored request has a 3 000-letter path segment, then the results of every request are still stored, under the route’s own template', async () => {
    proxy = await startTestProxy(shadowTable('long-segment'), { STRANGLER_DATABASE_URL: db.url, SHADOW_MAX_IN_FLIGHT: '10000' });
    await load([`/api/things/${randomLetters(3000)}`, ...Array.from({ length: 20 }, (_, i) => `/api/things/${i}`)]);
    const r = await report(proxy, 'long-segment');
    expect(r?.samples).toBe(21);
    expect(r!.templates.map((t) => t.template).sort()).toEqual(['/api/things/:id']);
  });

  it('when one answer holds fields too long to store, then the longest is counted as "(other)", a row still too long to index is dropped, counted and logged once without the values, and the rest of the batch is stored', async () => {
    let logs = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logs += chunk;
        cb();
      },
    });
    const long = randomLetters(3000);
    // Fields short enough to count, but 20 of them together too long for one signature row's index entry.
    const wide = Object.fromEntries(Array.from({ length: 20 }, () => [randomLetters(180), 1]));
    proxy = await startTestProxy(
      shadowTable('long-field'),
      { STRANGLER_DATABASE_URL: db.url, SHADOW_MAX_IN_FLIGHT: '10000' },
      pino({ level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink),
    );
    service.behaviour = {
      transform: (d, path) => ({ ...d, title: `${String(d.title)}!`, ...(path.endsWith('/5') ? { [long]: 1, ...wide } : {}) }),
    };
    await load(Array.from({ length: 20 }, (_, i) => `/api/things/${i}`));
    const r = await report(proxy, 'long-field');
    expect(r?.samples).toBe(20);
    expect(r!.fields.find((f) => f.field === '$.title')).toMatchObject({ diffs: 20, reported: true });
    expect(r!.fields.some((f) => f.field.length > 200)).toBe(false);
    expect(r!.fields.find((f) => f.field === '(other)')).toMatchObject({ diffs: 1 });
    expect(r!.fields.filter((f) => f.diffs === 1 && f.field.length > 180)).toHaveLength(20);
    expect(await metric(proxy, /strangler_shadow_rows_dropped_total\{table="shadow_field_counts"\} (\d+)/)).toBe(0);
    expect(await metric(proxy, /strangler_shadow_rows_dropped_total\{table="shadow_signature_counts"\} (\d+)/)).toBe(1);
    // The batches after it are stored in one go again.
    await load(Array.from({ length: 5 }, (_, i) => `/api/things/${100 + i}`));
    expect((await report(proxy, 'long-field'))?.samples).toBe(25);
    const dropLines = logs.split('\n').filter((l) => l.includes('shadow result rows dropped'));
    expect(dropLines.length).toBeGreaterThan(0);
    expect(new Set(dropLines.map((l) => (JSON.parse(l) as { table: string }).table)).size).toBe(dropLines.length);
    for (const secretish of [long, ...Object.keys(wide)]) expect(logs).not.toContain(secretish.slice(0, 20));
  });

  it('when 3 000 requests have distinct long paths, then at most 50 templates and an "(other)" one are stored, each at most 200 characters, and the report stays small', async () => {
    proxy = await startTestProxy(shadowTable('many-paths'), { STRANGLER_DATABASE_URL: db.url, SHADOW_MAX_IN_FLIGHT: '10000' });
    await load(Array.from({ length: 3000 }, (_, i) => `/api/things/q${letters(i)}/${'z'.repeat(300)}/${letters(i)}`));
    const r = await report(proxy, 'many-paths');
    expect(r?.samples).toBe(3000);
    const templates = r!.templates.map((t) => t.template);
    expect(templates.length).toBeLessThanOrEqual(51);
    expect(templates).toContain('(other)');
    expect(Math.max(...templates.map((t) => t.length))).toBeLessThanOrEqual(200);
    const page = await (await fetch(`${proxy.adminUrl}/__strangler/shadow.json`)).text();
    expect(page.length).toBeLessThan(200_000);
  }, 60_000);

  it('when a batch holds a row PostgreSQL cannot index, then the store keeps the other rows and says which was left out', async () => {
    const store = await PostgresShadowStore.open(db.url);
    try {
      const row = (template: string) => ({
        route: 'direct',
        template,
        samples: 1,
        matches: 1,
        monolithErrors: 0,
        serviceErrors: 0,
        noiseSamples: 0,
      });
      const dropped = await store.add(new Date(), {
        routes: [row('/ok'), row(`/${randomLetters(3000)}`)],
        fields: [],
        signatures: [],
        latency: [],
      });
      expect(dropped).toEqual([{ table: 'shadow_route_counts', code: '54000' }]);
      expect((await store.counters({ route: 'direct' })).routes.map((x) => x.template)).toEqual(['/ok']);
    } finally {
      await store.close();
    }
  });
});
