import fs from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buyer, listing, supplier, type Actor } from '@strangler/stack/testing';
import { startRelay } from '../src/relay.ts';
import { ADMIN_TOKEN, startSystem, type System } from '../src/system.ts';

const ADMIN_HEADERS = { authorization: `Bearer ${ADMIN_TOKEN}` };

// In the mixed state the monolith answers /api/orders and a copy of every read goes to the orders
// service, whose rows the replicator copies from the monolith a few milliseconds after each write.
// A read that follows a write at once reaches the service before that write has been copied, and a
// write that follows a read may be copied before the read's copy is answered: neither is the
// service's fault, and the report must not say it is.

let system: System;
let buyers: Actor[];
let listingId: number;
beforeAll(async () => {
  system = await startSystem('mixed');
  const app = { url: system.url, db: system.writerDb('auth') };
  listingId = (await listing(await supplier(app), { stockKg: 1_000_000, minOrderKg: 1 })).id;
  buyers = await Promise.all(Array.from({ length: 4 }, () => buyer(app)));
});
afterAll(() => system?.close());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Traffic {
  writes: number;
  /** Reads sent through the proxy, in all and of one order by id. */
  reads: number;
  readsById: number;
  failures: string[];
}

/**
 * The buyers, together about `perSecond` writes a second: each places an order, reads it and its
 * list back at once, cancels it, and reads both again, for `seconds`. Every read is shadowed.
 */
async function orderTraffic(o: { perSecond: number; seconds: number }): Promise<Traffic> {
  const t: Traffic = { writes: 0, reads: 0, readsById: 0, failures: [] };
  const until = performance.now() + o.seconds * 1000;
  const pause = (2 * buyers.length * 1000) / o.perSecond;
  const check = (what: string, res: { status: number; body: unknown }, want: number): void => {
    if (res.status !== want) t.failures.push(`${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
  };
  await Promise.all(
    buyers.map(async (b, w) => {
      // Spread out, so the writes arrive evenly rather than in bursts of four.
      await sleep((w * pause) / buyers.length);
      while (performance.now() < until && t.failures.length < 10) {
        const started = performance.now();
        const placed = await b.client.post('/api/orders', { items: [{ listingId, quantityKg: 1 + (t.writes % 3) }] });
        t.writes++;
        check('place', placed, 201);
        const id = (placed.body as { order?: { id: number } }).order?.id;
        if (id === undefined) break;
        for (let twice = 0; twice < 2; twice++) {
          check('read', await b.client.get(`/api/orders/${id}`), 200);
          check('list', await b.client.get('/api/orders?pageSize=5'), 200);
          t.reads += 2;
          t.readsById++;
          if (twice) break;
          check('cancel', await b.client.post(`/api/orders/${id}/cancel`), 200);
          t.writes++;
        }
        await sleep(Math.max(0, pause - (performance.now() - started)));
      }
    }),
  );
  return t;
}

interface OrdersReport {
  samples: number;
  stale: number;
  rawMatchRate: number;
  adjustedMismatchRate: number;
  readiness: { score: number };
  fields: { template: string; field: string; diffs: number; reported: boolean }[];
}

/** The orders route's report, from the proxy's admin API, once every mirror has been recorded. */
async function ordersReport(): Promise<OrdersReport> {
  const deadline = Date.now() + 10_000;
  while (system.proxy.shadowing.mirror.inFlight > 0 && Date.now() < deadline) await sleep(20);
  await system.proxy.shadowing.recorder.flush();
  const body = (await (await fetch(`${system.adminUrl}/__strangler/shadow.json?route=orders`, { headers: ADMIN_HEADERS })).json()) as {
    routes: OrdersReport[];
  };
  return body.routes[0]!;
}

const figures = (label: string, t: Traffic, r: OrdersReport): string =>
  `${label}: ${JSON.stringify({
    writes: t.writes,
    reads: t.reads,
    samples: r.samples,
    stale: r.stale,
    rawMatchRate: r.rawMatchRate,
    adjustedMatchRate: 1 - r.adjustedMismatchRate,
    readiness: r.readiness.score,
    reported: r.fields.filter((f) => f.reported).map((f) => `${f.template} ${f.field} ×${f.diffs}`),
    notReported: r.fields.filter((f) => !f.reported).map((f) => `${f.template} ${f.field} ×${f.diffs}`),
  })}`;

/** Every `totalCents` of an answer one cent off: a service with a one-field bug. */
const bumpTotals = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(bumpTotals);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'totalCents' && typeof x === 'number' ? x + 1 : bumpTotals(x)]));
  return v;
};

describe('shadow comparisons under write load', () => {
  it('when buyers place and cancel orders at 4/s while reading them back through the shadowed route, then a correct service has no differing field reported and the reads that raced the copy are counted stale', async () => {
    const traffic = await orderTraffic({ perSecond: 4, seconds: 8 });
    const report = await ordersReport();
    console.log(figures('shadow under writes, correct service', traffic, report));

    expect(traffic.failures, traffic.failures.join('\n')).toEqual([]);
    expect(traffic.writes).toBeGreaterThanOrEqual(20);
    expect(report.samples).toBe(traffic.reads);
    expect(report.fields.filter((f) => f.reported).map((f) => `${f.template} ${f.field}`)).toEqual([]);
    expect(report.adjustedMismatchRate).toBe(0);
    // Each buyer cancels within ms of reading: some reads' copies meet the cancel already copied
    // (the service ahead), differ, and match when asked again; most are still compared.
    expect(report.stale).toBeGreaterThan(0);
    expect(report.samples - report.stale).toBeGreaterThanOrEqual(report.samples / 4);
    // Both rates shown on the route's card: the raw one over every sample, the stale ones set apart.
    const page = await (await fetch(`${system.adminUrl}/__strangler/`, { headers: ADMIN_HEADERS })).text();
    expect(page).toContain(`${report.stale} stale`);
  });

  it('when the orders service answers every total one cent off under the same load, then that field, and only that one, is reported', async () => {
    const before = await ordersReport();
    const relay = await startRelay(system.services.orders.url, { rewriteJson: bumpTotals });
    const routes = await fs.readFile(system.routesFile, 'utf8');
    try {
      expect(routes).toContain(system.services.orders.url);
      await fs.writeFile(system.routesFile, routes.replace(system.services.orders.url, relay.url));
      await system.admin.reload();
      const traffic = await orderTraffic({ perSecond: 4, seconds: 6 });
      const report = await ordersReport();
      console.log(figures('shadow under writes, one-field bug', traffic, report));

      expect(traffic.failures, traffic.failures.join('\n')).toEqual([]);
      const reported = report.fields.filter((f) => f.reported);
      expect(reported.map((f) => f.field).filter((f) => !f.endsWith('.totalCents'))).toEqual([]);
      const byId = reported.find((f) => f.template === '/api/orders/:id' && f.field === '$.order.totalCents');
      expect(byId, 'the planted field is reported for /api/orders/:id').toBeDefined();
      const was = before.fields.find((f) => f.template === '/api/orders/:id' && f.field === '$.order.totalCents')?.diffs ?? 0;
      // Every read of an order by id differed in its total: none of them may be put down to staleness.
      expect(byId!.diffs - was).toBe(traffic.readsById);
      expect(report.adjustedMismatchRate).toBeGreaterThan(0);
    } finally {
      await fs.writeFile(system.routesFile, routes);
      await system.admin.reload();
      await relay.close();
    }
  });
});
