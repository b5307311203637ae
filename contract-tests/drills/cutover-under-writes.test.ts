import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { drain } from '@strangler/data';
import { canaryBucket, editGroup, groupState, inCanary, RouteDocuments, storeClient } from '@strangler/proxy';
import { steadyLoad } from '@strangler/proxy/testing';
import { DATA_MAPPING_FILE } from '@strangler/reference-migration';
import { buyer, HttpClient, listing, runCli, runCliEvents, supplier, type Actor, type TestApp } from '@strangler/stack/testing';
import { checkLedger, orderLedger, runWriters, type OrderLedger } from '../src/drill.ts';
import { startRelay } from '../src/relay.ts';
import { startSystem, type System } from '../src/system.ts';

// `strangler cutover orders` (the real CLI, a child process) takes the orders group from the
// monolith through shadow and two canary steps to the service, its data writer switched at the
// end — or back to the monolith when a step fails — while buyers place and cancel keyed orders
// through the proxy and read their orders the whole time. The proxy follows the shared store in
// Redis, as a deployed fleet does.

const STOCK = 1_000_000;
// Short steps: the bake and the gates' sample sizes are what a test can afford (600 s and 1 000 by
// default). The readiness score is lowered by the service's p99 over the monolith's: over a few
// hundred samples in 25 ms buckets on a shared machine it swings from 40 to 95 for this correct
// service, so the gate here asks for enough comparisons, not for a latency this test is not about;
// likewise the canary's p99 slack.
const CUTOVER = '{ steps: [25, 50], bakeSeconds: 4, minRequests: 15, p99SlackMs: 1000 }';
const SHADOW = '{ sampleRate: 1, gate: { minSamples: 30, minScore: 10 } }';

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
  [field: string]: unknown;
}
interface Run {
  code: number | null;
  events: Event[];
  err: string;
}

/** The CLI as a pipeline runs it (--json): its exit code and its events; `onEvent` told of each as it comes. */
const cutover = (args: string[], onEvent: (e: Event) => void = () => {}): Promise<Run> =>
  runCliEvents<Event>(['cutover', 'orders', '--json', '--tick-ms', '250', '--readiness-timeout', '30', ...args], cliEnv, onEvent);

const told = (run: Run): string => `${run.err}\n${run.events.map((e) => `${e.event} ${e.step ?? ''} ${e.detail ?? ''}`).join('\n')}`;

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

/**
 * New buyers placing and cancelling keyed orders (`keys` + seq) of a new listing, each a write
 * every 500 ms, and reading their orders at 50/s in all (for the shadow comparisons and the
 * canary's live figures), until stopped.
 */
async function orderTraffic(keys: string) {
  const app = { url: system.url, db: system.writerDb('auth') };
  const listingId = (await listing(await supplier(app), { stockKg: STOCK, minOrderKg: 1 })).id as number;
  const buyers = await buyersForBothSides(app);
  const ledger = orderLedger(buyers, listingId, keys);
  const reads = steadyLoad([system.url], 50, {
    path: (i) => (i % 2 ? '/api/orders?pageSize=5' : '/api/orders'),
    headers: (i) => ({ cookie: buyers[i % buyers.length]!.client.cookie! }),
    ok: (res) => res.statusCode === 200,
    maxSockets: 8,
  });
  let writing = true;
  const started = performance.now();
  const writers = runWriters({
    concurrency: buyers.length,
    write: ledger.write,
    onSuccess: ledger.onSuccess,
    more: () => writing,
    paceMs: 500,
  });
  return {
    ledger,
    async stop() {
      writing = false;
      const stats = await writers;
      const seconds = (performance.now() - started) / 1000;
      return { stats, seconds, load: await reads.stop(), settled: await settle(ledger, keys, listingId) };
    },
  };
}

/** Once the writes have stopped and the replicator has caught up: what each side holds, and what the CLI says of them. */
async function settle(ledger: OrderLedger, keys: string, listingId: number) {
  const data = system.data.orders;
  await drain(data);
  await drain(system.data.listings);
  const verify = await runCli(['data', 'verify', 'orders'], cliEnv);
  const status = await runCli(['data', 'status', 'orders', '--json'], cliEnv);
  const [orders] = JSON.parse(status.out) as {
    writer: string;
    recentSwitches: { from: string; to: string; outcome: string; frozenMs?: number; finishedAt: string }[];
  }[];
  const ids = [...ledger.placed.values()].map((o) => o.id);
  return {
    verify,
    writer: orders!.writer,
    switches: orders!.recentSwitches,
    sides: await checkLedger(data, ledger, keys),
    stockNow: (await new HttpClient(system.url).get(`/api/listings/${listingId}`)).body.listing.stockKg as number,
    group: groupState((await docs.read())!.text, 'orders')!,
    byService: ids.filter((id) => id >= SERVICE_IDS).length,
    byMonolith: ids.filter((id) => id < SERVICE_IDS).length,
  };
}

type Traffic = Awaited<ReturnType<typeof orderTraffic>>;

/** The figures a closing note quotes, on one line. */
function figures(
  label: string,
  run: Run,
  ledger: OrderLedger,
  r: Awaited<ReturnType<Traffic['stop']>>,
  extra: Record<string, unknown>,
): string {
  // Each step's duration, from its event to the next step's (or the end).
  const marks = run.events.filter((e) => e.event === 'step' || e.event === 'promoted' || e.event === 'rollback');
  const stepsSeconds = Object.fromEntries(
    marks.slice(0, -1).map((e, i) => [e.step, (Date.parse(marks[i + 1]!.at) - Date.parse(e.at)) / 1000]),
  );
  return `${label}: ${JSON.stringify({
    exit: run.code,
    stepsSeconds,
    verdicts: run.events.filter((e) => e.event === 'verdict').map((e) => `${e.step}: ${e.detail}`),
    // Each step that moved users between the sides, with the writes frozen while they drained.
    reroutes: run.events.filter((e) => e.event === 'reroute').map((e) => `${e.step}: ${e.detail}`),
    writes: r.stats.writes,
    writesPerSecond: Math.round(r.stats.writes / r.seconds),
    retried503: r.stats.retried503Codes,
    delayedWritesMaxMs: Math.round(Math.max(0, ...r.stats.delaysMs)),
    byService: r.settled.byService,
    byMonolith: r.settled.byMonolith,
    cancels: ledger.cancelled.size,
    reads: r.load.sent,
    readFailures: r.load.failed.length,
    monolith: r.settled.sides[0],
    service: r.settled.sides[1],
    stockOffByKg: STOCK - ledger.heldKg() - r.settled.stockNow,
    ...extra,
  })}`;
}

/** What every run must end with, promoted or rolled back: no write failed, none lost or doubled, both databases equal, the stock adding up. */
function expectNothingLost(ledger: OrderLedger, r: Awaited<ReturnType<Traffic['stop']>>): void {
  expect(r.stats.failures, r.stats.failures.join('\n')).toEqual([]);
  expect(r.load.failed.slice(0, 5)).toEqual([]);
  // Both sides took orders: the canary's users at the service, the others at the monolith.
  expect(r.settled.byService).toBeGreaterThan(0);
  expect(r.settled.byMonolith).toBeGreaterThan(0);
  expect(r.settled.sides).toEqual([
    { lost: 0, duplicated: 0, cancelMismatch: 0, unanswered: 0 },
    { lost: 0, duplicated: 0, cancelMismatch: 0, unanswered: 0 },
  ]);
  expect(r.settled.verify.code, r.settled.verify.out + r.settled.verify.err).toBe(0);
  expect(r.settled.verify.out).toMatch(/^orders\s+equal/m);
  expect(r.settled.stockNow).toBe(STOCK - ledger.heldKg());
}

/** The store's table with the orders upstream at `url`, taken by the proxy. */
async function ordersUpstream(url: string): Promise<void> {
  const doc = (await docs.read())!;
  const line = /^ {2}orders: \{ url: "[^"]+" \}$/m;
  expect(doc.text).toMatch(line);
  const written = await docs.write({
    basedOn: doc.revision,
    text: doc.text.replace(line, `  orders: { url: "${url}" }`),
    actor: 'test',
    reason: 'the orders upstream for a test',
    kind: 'push',
    diff: [],
  });
  while (system.proxy.store.current.version !== written.revision) await new Promise((r) => setTimeout(r, 20));
}

describe('cutover of a writing group under concurrent writes', () => {
  // First, while the group is still at the monolith: a failed step brings it back there.
  it('when the orders service turns slow at the first canary step, then the cutover rolls the group back to the monolith (exit 3), the monolith still writes, and the orders the service took meanwhile are neither lost nor doubled', async () => {
    const relay = await startRelay(system.services.orders.url);
    await ordersUpstream(relay.url);
    try {
      const traffic = await orderTraffic('rollback-');
      const run = await cutover(['--reason', 'cutover rolled back under writes test'], (e) => {
        if (e.event !== 'step' || e.step !== 'canary 25 %') return;
        // The fault planted once the service takes users' requests: reads 1.5 s late (writes as they
        // are). Not before the shadow step's last copies are answered: they would count against the
        // next test's readiness gate, which reads the shadow results from the minute it starts.
        void (async () => {
          const deadline = Date.now() + 3_000;
          while (system.proxy.shadowing.mirror.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
          relay.behaviour.delayMs = (req) => (req.method === 'GET' ? 1_500 : 0);
        })();
      });
      relay.behaviour.delayMs = undefined;
      // A while longer: the canary's users are back at the monolith, writing there.
      await new Promise((r) => setTimeout(r, 1_500));
      const r = await traffic.stop();
      console.log(figures('cutover rolled back under writes', run, traffic.ledger, r, {}));

      expect(run.code, told(run)).toBe(3);
      expect(run.events.find((e) => e.event === 'rollback')?.detail).toMatch(/^canary 25 % failed: p99 .*; back to monolith$/);
      expect(r.settled.group).toMatchObject({ mode: 'monolith', frozen: false });
      expect(r.settled.writer).toBe('monolith');
      expect(r.settled.switches).toEqual([]);
      expectNothingLost(traffic.ledger, r);
    } finally {
      await ordersUpstream(system.services.orders.url);
      await relay.close();
    }
  }, 60_000);

  it('when buyers place and cancel keyed orders the whole time, then `strangler cutover orders` goes to service mode with the writer switched, and no order is lost or doubled and both databases verify equal', async () => {
    const traffic = await orderTraffic('cutover-');
    const run = await cutover(['--reason', 'cutover under writes test']);
    // A while longer, so the new writer takes writes too (and the replicator copies them back).
    const servedBefore = traffic.ledger.placed.size;
    await new Promise((r) => setTimeout(r, 2_000));
    const r = await traffic.stop();
    const lastSwitch = r.settled.switches[0];
    console.log(
      figures('cutover under writes', run, traffic.ledger, r, {
        frozenMs: lastSwitch?.frozenMs,
        afterPromotion: traffic.ledger.placed.size - servedBefore,
      }),
    );

    expect(run.code, told(run)).toBe(0);
    expect(run.events.at(-1)?.event).toBe('promoted');
    expect(r.settled.group).toMatchObject({ mode: 'service', frozen: false });
    expect(r.settled.writer).toBe('service');
    expect(lastSwitch).toMatchObject({ from: 'monolith', to: 'service', outcome: 'switched' });
    expect(traffic.ledger.placed.size - servedBefore).toBeGreaterThan(0);
    expectNothingLost(traffic.ledger, r);
  }, 60_000);

  // After the promotion above: the group served by the service, the service writing.
  it('regression, a cutover that died between its writer switch and saving its promotion was rolled back on --resume, and left alone by --abort, with the routes at the monolith and the service still writing: resumed it is promoted, aborted its writer moves back too', async () => {
    const key = `${prefix}:cutover:orders`;
    // What a run killed right after the switch leaves in the store: still at the service step, the data not marked switched.
    const died = async (): Promise<void> => {
      const state = JSON.parse((await docs.redis.get(key))!) as Record<string, unknown>;
      await docs.redis.set(key, JSON.stringify({ ...state, status: 'running', next: 3, dataSwitched: false }));
    };
    const sides = async () => ({
      mode: groupState((await docs.read())!.text, 'orders')!.mode,
      writer: (JSON.parse((await runCli(['data', 'status', 'orders', '--json'], cliEnv)).out) as { writer: string }[])[0]!.writer,
    });
    expect(await sides()).toEqual({ mode: 'service', writer: 'service' });

    await died();
    const resumed = await cutover(['--resume', '--reason', 'the runner died after the switch']);
    expect(resumed.code, told(resumed)).toBe(0);
    expect(await sides()).toEqual({ mode: 'service', writer: 'service' });

    await died();
    const aborted = await runCli(['cutover', 'orders', '--abort'], cliEnv);
    expect(aborted.code, aborted.out + aborted.err).toBe(3);
    expect(await sides()).toEqual({ mode: 'monolith', writer: 'monolith' });
    await drain(system.data.orders);
    const verify = await runCli(['data', 'verify', 'orders'], cliEnv);
    expect(verify.code, verify.out + verify.err).toBe(0);
  }, 60_000);

  // After the abort above: the group at the monolith, which writes; and left there.
  it('regression, --abort of a cutover paused at a canary step moved its users back to the monolith before the replicator had copied their last orders there: a buyer found the order just placed at the service missing (404); now the abort drains the writes first', async () => {
    const app = { url: system.url, db: system.writerDb('auth') };
    const listingId = (await listing(await supplier(app), { stockKg: STOCK, minOrderKg: 1 })).id as number;
    let inside: Actor | undefined;
    while (!inside) {
      const b = await buyer(app);
      if (inCanary(canaryBucket('orders', `sub:${b.user.id}`), 25)) inside = b;
    }
    // A cutover paused at canary 25 %, as one whose 50 % step had too few requests leaves it.
    const doc = (await docs.read())!;
    const written = await docs.write({
      basedOn: doc.revision,
      text: editGroup(doc.text, 'orders', { mode: 'canary', weight: 25 }),
      actor: 'test',
      reason: 'a paused cutover',
      kind: 'flip',
      group: 'orders',
      diff: [],
    });
    while (system.proxy.store.current.version !== written.revision) await new Promise((r) => setTimeout(r, 20));
    const now = new Date().toISOString();
    await docs.redis.set(
      `${prefix}:cutover:orders`,
      JSON.stringify({
        group: 'orders',
        status: 'paused',
        startedAt: now,
        updatedAt: now,
        actor: 'test',
        reason: 'paused',
        safe: 'monolith',
        next: 2,
        dataSwitched: false,
        why: 'canary 50 % inconclusive',
        verdicts: [],
      }),
    );
    // The replicator held back: copies to the monolith wait while this transaction holds its orders table.
    const lock = new pg.Client({ connectionString: system.databaseUrls.monolith });
    await lock.connect();
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE orders IN EXCLUSIVE MODE');
      const placed = await inside.client.post('/api/orders', { items: [{ listingId, quantityKg: 2 }] });
      expect(placed.status).toBe(201);
      expect(placed.body.order.id).toBeGreaterThanOrEqual(SERVICE_IDS);
      const aborting = runCli(['cutover', 'orders', '--abort'], cliEnv);
      // Released a while later: an abort that waits for the copy waits until then.
      const released = new Promise((r) => setTimeout(r, 1_500)).then(() => lock.query('COMMIT'));
      const deadline = Date.now() + 20_000;
      while (groupState((await docs.read())!.text, 'orders')!.mode !== 'monolith' && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      // Back at the monolith: the buyer reads the order just placed.
      const readBack = await inside.client.get(`/api/orders/${placed.body.order.id}`);
      const aborted = await aborting;
      await released;
      expect(aborted.code, aborted.out + aborted.err).toBe(3);
      expect(readBack.status).toBe(200);
    } finally {
      await lock.query('ROLLBACK').catch(() => {});
      await lock.end();
    }
  }, 60_000);

  // After the abort above: the group at the monolith, which writes.
  it('regression, a canary step moved users to the service before the replicator had copied their last orders there: a buyer moved at 25 → 50 % found the order just placed missing (404); now the step drains the writes first', async () => {
    const app = { url: system.url, db: system.writerDb('auth') };
    const listingId = (await listing(await supplier(app), { stockKg: STOCK, minOrderKg: 1 })).id as number;
    const readers = await buyersForBothSides(app);
    let moved: Actor | undefined;
    while (!moved) {
      const b = await buyer(app);
      const bucket = canaryBucket('orders', `sub:${b.user.id}`);
      if (!inCanary(bucket, 25) && inCanary(bucket, 50)) moved = b;
    }
    const reads = steadyLoad([system.url], 50, {
      path: () => '/api/orders?pageSize=5',
      headers: (i) => ({ cookie: readers[i % readers.length]!.client.cookie! }),
      ok: (res) => res.statusCode === 200,
      maxSockets: 8,
    });
    // The replicator held back: copies to the service wait while this transaction holds its orders table.
    const lock = new pg.Client({ connectionString: system.databaseUrls.orders });
    await lock.connect();
    let placed: { status: number; id?: number } | undefined;
    let readBack: number | undefined;
    const pending: Promise<unknown>[] = [];
    try {
      const looks = { 'canary 25 %': 0, 'canary 50 %': 0 } as Record<string, number>;
      const run = await cutover(['--reason', 'the moved buyer reads their order'], (e) => {
        const look = e.event === 'gate' && e.step !== undefined && e.step in looks ? looks[e.step]!++ : undefined;
        // The first look of the 25 % step: its users moved, the next step's not yet.
        if (e.step === 'canary 25 %' && look === 0)
          pending.push(
            (async () => {
              await lock.query('BEGIN');
              await lock.query('LOCK TABLE orders IN EXCLUSIVE MODE');
              // Outside the 25 %: placed at the monolith, its copy to the service held back.
              const res = await moved!.client.post('/api/orders', { items: [{ listingId, quantityKg: 2 }] });
              placed = { status: res.status, id: res.body.order?.id };
            })(),
          );
        if (e.event === 'step' && e.step === 'canary 50 %')
          // Released a while after the step starts: a step that waits for the copy waits until then.
          pending.push(new Promise((r) => setTimeout(r, 1_500)).then(() => lock.query('COMMIT')));
        // The first look of the 50 % step: the buyer is at the service now.
        if (e.step === 'canary 50 %' && look === 0)
          pending.push(moved!.client.get(`/api/orders/${placed?.id}`).then((res) => (readBack = res.status)));
      });
      await Promise.all(pending);
      expect(run.code, told(run)).toBe(0);
    } finally {
      await lock.query('ROLLBACK').catch(() => {});
      await lock.end();
      await reads.stop();
    }
    expect(placed).toMatchObject({ status: 201 });
    expect(placed!.id).toBeLessThan(SERVICE_IDS);
    expect(readBack).toBe(200);
  }, 60_000);
});
