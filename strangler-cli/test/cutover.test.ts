import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { editGroup, groupState, RouteDocuments, storeClient } from '@strangler/proxy';
import { ADMIN_TOKEN, startTestProxy, startTestRedis, steadyLoad, type TestProxy, type TestRedis } from '@strangler/proxy/testing';
import { createScratchDatabase, type ScratchDatabase } from '@strangler/stack';
import { runCli, runCliEvents } from '@strangler/stack/testing';
import type {} from '@strangler/stack/testing/provided-context';

/**
 * `strangler cutover` end to end: a real store, a proxy following it with its shadow results in
 * PostgreSQL, steady load from many users, and a service whose faults the test plants once the
 * canary starts. Bake times are 3 s here (600 by default), the first step 25 % (1 % by default) so that a 5 % fault shows in it with near certainty and the gates look every 200 ms.
 */
let redis: TestRedis;
let shadowDb: ScratchDatabase;
let proxy: TestProxy;
let docs: RouteDocuments;
let env: Record<string, string>;

/** An upstream answering the same JSON as the other side; `faultRate` of its answers 500, each `delayMs` late. */
class Side {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  faultRate = 0;
  delayMs = 0;
  url = '';
  readonly #server = http.createServer((req, res) => {
    req.resume();
    setTimeout(() => {
      const fail = Math.random() < this.faultRate;
      res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json', 'x-side': this.name });
      res.end(fail ? '{"error":"planted"}' : '{"items":[1,2,3]}');
    }, this.delayMs);
  });
  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }
  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((r) => this.#server.close(() => r()));
  }
}
const monolith = new Side('monolith');
const service = new Side('service');

const TABLE = (): string => `version: 1
upstreams:
  monolith: { url: "${monolith.url}" }
  catalog: { url: "${service.url}" }
groups:
  catalog:
    mode: monolith
    target: catalog
    shadow: { sampleRate: 1, gate: { minSamples: 30, minScore: 50 }, freshness: { waitMs: 0 } }
    cutover: { steps: [25, 50], bakeSeconds: 3, minRequests: 25, p99SlackMs: 100 }
routes:
  - name: catalog
    group: catalog
    match: { path: /api/catalog/*, methods: [GET] }
default: monolith
`;

beforeAll(async () => {
  redis = await startTestRedis();
  shadowDb = await createScratchDatabase(inject('pgServerUrl'), 'cutover');
  await Promise.all([monolith.start(), service.start()]);
  proxy = await startTestProxy(TABLE(), { ROUTES_STORE_URL: redis.url, ROUTES_POLL_MS: '200', STRANGLER_DATABASE_URL: shadowDb.url });
  const client = storeClient(redis.url);
  await client.connect();
  docs = new RouteDocuments(client);
  env = { ROUTES_STORE_URL: redis.url, STRANGLER_DATABASE_URL: shadowDb.url, ADMIN_TOKEN, PROXY_URL: proxy.url };
}, 30_000);

afterAll(async () => {
  await proxy?.close();
  docs?.redis.disconnect();
  await Promise.all([monolith.close(), service.close()]);
  await shadowDb?.drop();
  await redis?.close();
});

beforeEach(() => resetToMonolith());

/** Every case starts from the monolith, no cutover on record, a healthy service, no shadow results. */
async function resetToMonolith(): Promise<void> {
  service.faultRate = 0;
  service.delayMs = 0;
  await docs.redis.del(`${docs.prefix}:cutover:catalog`, `${docs.prefix}:cutover:catalog:lease`);
  const doc = (await docs.read())!;
  if (groupState(doc.text, 'catalog')!.mode !== 'monolith')
    await docs.write({
      basedOn: doc.revision,
      text: editGroup(doc.text, 'catalog', { mode: 'monolith', weight: undefined }),
      actor: 'test',
      reason: 'reset',
      kind: 'flip',
      group: 'catalog',
      diff: [],
    });
  while (proxy.store.current.version !== (await docs.read())!.revision) await new Promise((r) => setTimeout(r, 20));
  // The readiness gate counts shadow results from the minute a cutover starts: forget the last case's
  // (after the proxy's recorder has flushed what it still held, once a second).
  await new Promise((r) => setTimeout(r, 1200));
  const db = new pg.Client({ connectionString: shadowDb.url });
  await db.connect();
  try {
    const { rows } = await db.query<{ name: string }>(
      `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'shadow_%'`,
    );
    if (rows.length) await db.query(`TRUNCATE ${rows.map((r) => `"${r.name}"`).join(', ')}`);
  } finally {
    await db.end();
  }
}

/** ~200 requests/s from ever new users (so a canary's weight is its share), until stopped. */
const load = (): ReturnType<typeof steadyLoad> =>
  steadyLoad([proxy.url], 200, {
    path: (i) => `/api/catalog/${i % 50}`,
    headers: (i) => ({ cookie: `strangler_uid=00000000-0000-4000-8000-${String(i).padStart(12, '0')}` }),
    maxSockets: 16,
  });

interface Run {
  code: number | null;
  events: { event: string; step?: string; detail?: string; figures?: unknown; [field: string]: unknown }[];
  err: string;
}

/** The CLI as a pipeline runs it (--json), `onEvent` told of each event as it happens. */
const cutover = (args: string[], onEvent: (e: Run['events'][number]) => void = () => {}): Promise<Run> =>
  runCliEvents<Run['events'][number]>(['cutover', 'catalog', '--json', '--tick-ms', '200', ...args], env, onEvent);

const modeNow = async (): Promise<string> => groupState((await docs.read())!.text, 'catalog')!.mode;

describe('strangler cutover', () => {
  it('when the service is correct, then it goes shadow → canary 25 % → canary 50 % → service by itself, each step audited; exit 0', async () => {
    const traffic = load();
    const run = await cutover(['--reason', 'all gates green']);
    expect((await traffic.stop()).failed).toEqual([]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.events.filter((e) => e.event === 'step').map((e) => e.step)).toEqual(['shadow', 'canary 25 %', 'canary 50 %', 'service']);
    expect(run.events.filter((e) => e.event === 'verdict').map((e) => e.detail)).toEqual(['pass', 'pass']);
    expect(run.events.at(-1)).toMatchObject({ event: 'promoted' });
    expect(await modeNow()).toBe('service');
    const audit = await docs.history({ group: 'catalog', limit: 10 });
    expect(audit.slice(0, 4).map((a) => a.reason)).toEqual([
      'cutover: service: all gates green',
      'cutover: canary 50 %: all gates green',
      'cutover: canary 25 %: all gates green',
      'cutover: shadow: all gates green',
    ]);
  }, 60_000);

  it('when the service starts answering 5 % of requests with 500 at the first canary step, then the cutover rolls back by itself to where it started (monolith), saying which gate and the figures; exit 3', async () => {
    const traffic = load();
    const run = await cutover(['--reason', 'planted 500s'], (e) => {
      if (e.event === 'step' && e.step === 'canary 25 %') service.faultRate = 0.05;
    });
    await traffic.stop();
    expect(run.code).toBe(3);
    const verdict = run.events.find((e) => e.event === 'verdict')!;
    expect(verdict.step).toBe('canary 25 %');
    expect(verdict.detail).toMatch(/^fail: error rate \d+\.\d\d % on the target against 0\.00 % on the monolith/);
    expect(run.events.find((e) => e.event === 'rollback')?.detail).toContain('back to monolith');
    expect(run.events.some((e) => e.step === 'canary 50 %')).toBe(false);
    expect(await modeNow()).toBe('monolith');
    const state = JSON.parse((await docs.redis.get(`${docs.prefix}:cutover:catalog`))!);
    expect(state).toMatchObject({ status: 'rolled-back' });
    expect(state.why).toContain('canary 25 % failed: error rate');
  }, 60_000);

  it('when the service gets 200 ms slower at the first canary step, then the p99 gate rolls it back; exit 3', async () => {
    const traffic = load();
    const run = await cutover(['--reason', 'planted latency'], (e) => {
      if (e.event === 'step' && e.step === 'canary 25 %') service.delayMs = 200;
    });
    await traffic.stop();
    expect(run.code).toBe(3);
    expect(run.events.find((e) => e.event === 'verdict')).toMatchObject({ step: 'canary 25 %' });
    expect(run.events.find((e) => e.event === 'verdict')!.detail).toMatch(
      /^fail: p99 ≤ \d+ ms on the target against ≤ \d+ ms on the monolith/,
    );
    expect(await modeNow()).toBe('monolith');
  }, 60_000);

  it('when a gate runs at each step through preview routing, then it reaches the target before users do; a gate that fails at the first canary step rolls back there', async () => {
    // The gate asks for a catalog page with the preview its environment gives it: it must come from the service.
    const gate = `node -e "fetch(process.env.PROXY_URL + '/api/catalog/1', { headers: { 'x-strangler-preview': process.env.E2E_PREVIEW, 'x-strangler-token': process.env.E2E_ADMIN_TOKEN } }).then((r) => process.exit(r.headers.get('x-side') === 'service' ? 0 : 1))"`;
    const traffic = load();
    const ok = await cutover(['--reason', 'gated', '--gate', gate]);
    await traffic.stop();
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    const passed = ok.events.filter((e) => e.event === 'gate' && e.detail?.startsWith('gate passed'));
    expect(passed.map((e) => e.step)).toEqual(['shadow', 'canary 25 %', 'canary 50 %', 'service']);

    await resetToMonolith();
    const traffic2 = load();
    const red = await cutover([
      '--reason',
      'gated',
      '--gate',
      `${gate} && echo "token ${ADMIN_TOKEN}" && test "$STRANGLER_CUTOVER_STEP" != "canary 25 %"`,
    ]);
    await traffic2.stop();
    expect(red.code).toBe(3);
    const rollback = red.events.find((e) => e.event === 'rollback')!;
    expect(rollback.detail).toMatch(/^canary 25 %: the gate failed: ".+" exited 1: token \*\*\*; back to monolith$/);
    expect(JSON.stringify(red.events)).not.toContain(ADMIN_TOKEN);
    expect(await modeNow()).toBe('monolith');
  }, 90_000);

  it('when the readiness gate cannot pass in time, then the cutover pauses (exit 4) and a new run is refused until --resume, which goes on while a concurrent one is refused naming the lease holder', async () => {
    // No load: the shadow gate cannot pass either, so give it a short time and watch it pause.
    const paused = await cutover(['--reason', 'quiet hour', '--readiness-timeout', '1']);
    expect(paused.code).toBe(4);
    expect(paused.events.at(-1)).toMatchObject({ event: 'paused' });
    expect(paused.events.at(-1)!.detail).toContain('readiness gate not passed');
    const again = await cutover(['--reason', 'again']);
    expect(again.code).toBe(1);
    expect(again.err).toContain('give --resume to go on, or --abort');
    // While one runs, a second is refused, naming the holder.
    const traffic = load();
    let second: Run | undefined;
    const first = cutover(['--resume', '--reason', 'resumed'], (e) => {
      if (e.event === 'step' && e.step === 'canary 25 %' && !second)
        void cutover(['--resume', '--reason', 'twice']).then((r) => (second = r));
    });
    const done = await first;
    await traffic.stop();
    while (!second) await new Promise((r) => setTimeout(r, 20));
    expect(done.code).toBe(0);
    expect(second.code).toBe(1);
    expect(second.err).toMatch(/a cutover of catalog is running, held by \S+ \(pid \d+\)/);
    expect(await modeNow()).toBe('service');
  }, 90_000);

  it('when aborted while paused, then the group returns to its last safe step; --dry-run prints the plan and changes nothing', async () => {
    const paused = await cutover(['--reason', 'to abort', '--readiness-timeout', '1']);
    expect(paused.code).toBe(4);
    expect(await modeNow()).toBe('shadow');
    const aborted = await cutover(['--abort']);
    expect(aborted.code).toBe(3);
    expect(aborted.events.at(-1)).toMatchObject({ event: 'aborted', detail: 'back to monolith' });
    expect(await modeNow()).toBe('monolith');
    const revision = (await docs.read())!.revision;
    const dry = await runCli(['cutover', 'catalog', '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('steps:      shadow → canary 25 % → canary 50 % → service');
    expect(dry.out).toContain('3 s per canary step');
    expect((await docs.read())!.revision).toBe(revision);
  }, 60_000);
});
