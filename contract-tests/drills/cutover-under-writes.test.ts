import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { drain } from '@strangler/data';
import { canaryBucket, groupState, inCanary, RouteDocuments, storeClient } from '@strangler/proxy';
import { steadyLoad } from '@strangler/proxy/testing';
import { DATA_MAPPING_FILE } from '@strangler/reference-migration';
import { buyer, CLI, HttpClient, listing, runCli, supplier, type Actor, type TestApp } from '@strangler/stack/testing';
import { checkLedger, orderLedger, runWriters } from '../src/drill.ts';
import { startSystem, type System } from '../src/system.ts';

// `strangler cutover orders` (the real CLI, a child process) takes the orders group from the
// monolith through shadow and two canary steps to the service, its data writer switched at the
// end, while buyers place and cancel keyed orders through the proxy and read their orders the
// whole time. The proxy follows the shared store in Redis, as a deployed fleet does.

const STOCK = 1_000_000;
const KEYS = 'cutover-';
// Short steps: the bake and the gates' sample sizes are what a test can afford (600 s and 1 000 by default).
const CUTOVER = '{ steps: [25, 50], bakeSeconds: 4, minRequests: 15, p99SlackMs: 1000 }';
const SHADOW = '{ sampleRate: 1, gate: { minSamples: 30, minScore: 50 } }';

let system: System;
let docs: RouteDocuments;
let cliEnv: Record<string, string>;
const prefix = `test:cutover-writes:${randomUUID()}`;

beforeAll(async () => {
  const url = inject('redisUrl');
  system = await startSystem('monolith', { store: { url, prefix } });
  const redis = storeClient(url);
  await redis.connect();
  docs = new RouteDocuments(redis, prefix);
  // The group's cutover and shadow settings, put into the store as an operator would push them.
  const doc = (await docs.read())!;
  const line = '  orders: { mode: monolith, target: orders }';
  expect(doc.text).toContain(line);
  const written = await docs.write({
    basedOn: doc.revision,
    text: doc.text.replace(line, `  orders: { mode: monolith, target: orders, shadow: ${SHADOW}, cutover: ${CUTOVER} }`),
    actor: 'test',
    reason: 'short cutover steps for a test',
    kind: 'push',
    diff: [],
  });
  while (system.proxy.store.current.version !== written.revision) await new Promise((r) => setTimeout(r, 20));
  const db = system.databaseUrls;
  cliEnv = {
    ROUTES_STORE_URL: url,
    ROUTES_STORE_PREFIX: prefix,
    STRANGLER_DATABASE_URL: db.strangler,
    DATA_MAPPING: DATA_MAPPING_FILE,
    MONOLITH_DATABASE_URL: db.monolith,
    ORDERS_DATABASE_URL: db.orders,
  };
}, 60_000);

afterAll(async () => {
  await system?.close();
  if (docs) {
    const keys = await docs.redis.keys(`${prefix}:*`);
    if (keys.length) await docs.redis.del(...keys);
    docs.redis.disconnect();
  }
});

interface Event {
  at: string;
  event: string;
  step?: string;
  detail?: string;
}

/** The CLI as a pipeline runs it (--json): its exit code and its events, each as it came. */
function cutover(args: string[]): Promise<{ code: number | null; events: Event[]; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'cutover', 'orders', '--json', '--tick-ms', '250', ...args], {
      env: { PATH: process.env.PATH ?? '', ...cliEnv },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) =>
      resolve({
        code,
        events: out
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Event),
        err,
      }),
    );
  });
}

/**
 * Buyers for the canary: at least three inside the first step's 25 % and three outside the last
 * step's 50 % (a user's side follows their session's subject), so both sides take orders at every step.
 */
async function buyersForBothSides(app: TestApp): Promise<Actor[]> {
  const buyers: Actor[] = [];
  const inside = (b: Actor, weight: number): boolean => inCanary(canaryBucket('orders', `sub:${b.user.id}`), weight);
  while (buyers.length < 10 || buyers.filter((b) => inside(b, 25)).length < 3 || buyers.filter((b) => !inside(b, 50)).length < 3) {
    if (buyers.length >= 40) throw new Error('40 buyers and still not three on each side of the canary');
    buyers.push(await buyer(app));
  }
  return buyers;
}

const SERVICE_IDS = 1_000_000_000;

describe('cutover of a writing group under concurrent writes', () => {
  it('when buyers place and cancel keyed orders the whole time, then `strangler cutover orders` goes to service mode with the writer switched, and no order is lost or doubled and both databases verify equal', async () => {
    const app = { url: system.url, db: system.writerDb('auth') };
    const stocked = await listing(await supplier(app), { stockKg: STOCK, minOrderKg: 1 });
    const buyers = await buyersForBothSides(app);
    const ledger = orderLedger(buyers, stocked.id, KEYS);

    // Reads of each buyer's orders, for the shadow comparisons and the canary's live figures.
    const reads = steadyLoad([system.url], 50, {
      path: (i) => (i % 2 ? '/api/orders?pageSize=5' : '/api/orders'),
      headers: (i) => ({ cookie: buyers[i % buyers.length]!.client.cookie! }),
      ok: (res) => res.statusCode === 200,
      maxSockets: 8,
    });
    let writing = true;
    const started = performance.now();
    // Each buyer a write every 500 ms: about 2 per buyer per second in all.
    const writers = runWriters({
      concurrency: buyers.length,
      write: ledger.write,
      onSuccess: ledger.onSuccess,
      more: () => writing,
      paceMs: 500,
    });

    const run = await cutover(['--reason', 'cutover under writes test']);
    // A while longer, so the new writer takes writes too (and the replicator copies them back).
    const servedBefore = ledger.placed.size;
    await new Promise((r) => setTimeout(r, 2_000));
    writing = false;
    const stats = await writers;
    const seconds = (performance.now() - started) / 1000;
    const load = await reads.stop();

    const data = system.data.orders;
    await drain(data);
    await drain(system.data.listings);
    const verify = await runCli(['data', 'verify', 'orders'], cliEnv);
    const status = await runCli(['data', 'status', 'orders', '--json'], cliEnv);
    const [orders] = JSON.parse(status.out) as {
      writer: string;
      recentSwitches: { from: string; to: string; outcome: string; frozenMs?: number }[];
    }[];
    const sides = await checkLedger(data, ledger, KEYS);
    const stockNow = (await new HttpClient(system.url).get(`/api/listings/${stocked.id}`)).body.listing.stockKg;
    const group = groupState((await docs.read())!.text, 'orders')!;
    const ids = [...ledger.placed.values()].map((o) => o.id);

    // Each step's duration, from its event to the next step's (or the end).
    const marks = run.events.filter((e) => e.event === 'step' || e.event === 'promoted' || e.event === 'rollback');
    const stepsSeconds = Object.fromEntries(
      marks.slice(0, -1).map((e, i) => [e.step, (Date.parse(marks[i + 1]!.at) - Date.parse(e.at)) / 1000]),
    );
    const lastSwitch = orders?.recentSwitches[0];
    console.log(
      `cutover under writes: ${JSON.stringify({
        exit: run.code,
        stepsSeconds,
        verdicts: run.events.filter((e) => e.event === 'verdict').map((e) => `${e.step}: ${e.detail}`),
        frozenMs: lastSwitch?.frozenMs,
        writes: stats.writes,
        writesPerSecond: Math.round(stats.writes / seconds),
        retried503: stats.retried503,
        delayedWritesMaxMs: Math.round(Math.max(0, ...stats.delaysMs)),
        byService: ids.filter((id) => id >= SERVICE_IDS).length,
        afterPromotion: ledger.placed.size - servedBefore,
        byMonolith: ids.filter((id) => id < SERVICE_IDS).length,
        cancels: ledger.cancelled.size,
        reads: load.sent,
        readFailures: load.failed.length,
        monolith: sides[0],
        service: sides[1],
        stockOffByKg: STOCK - ledger.heldKg() - stockNow,
      })}`,
    );

    expect(run.code, `${run.err}\n${run.events.map((e) => `${e.event} ${e.step ?? ''} ${e.detail ?? ''}`).join('\n')}`).toBe(0);
    expect(run.events.at(-1)?.event).toBe('promoted');
    expect(group.mode).toBe('service');
    expect(group.frozen).toBeFalsy();
    expect(orders?.writer).toBe('service');
    expect(lastSwitch).toMatchObject({ from: 'monolith', to: 'service', outcome: 'switched' });
    expect(stats.failures, stats.failures.join('\n')).toEqual([]);
    expect(load.failed.slice(0, 5)).toEqual([]);
    // Both sides took orders: the canary's users at the service, the others at the monolith.
    expect(ids.filter((id) => id >= SERVICE_IDS).length).toBeGreaterThan(0);
    expect(ids.filter((id) => id < SERVICE_IDS).length).toBeGreaterThan(0);
    expect(ledger.placed.size - servedBefore).toBeGreaterThan(0);
    expect(sides).toEqual([
      { lost: 0, duplicated: 0, cancelMismatch: 0, unanswered: 0 },
      { lost: 0, duplicated: 0, cancelMismatch: 0, unanswered: 0 },
    ]);
    expect(verify.code, verify.out + verify.err).toBe(0);
    expect(verify.out).toMatch(/^orders\s+equal/m);
    expect(stockNow).toBe(STOCK - ledger.heldKg());
  }, 90_000);
});
