import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drain, verify } from '@strangler/data';
import { buyer, HttpClient, listing, supplier, type Actor } from '@strangler/stack/testing';
import { runDrill, summary } from '../src/drill.ts';
import { startSystem, type System } from '../src/system.ts';

let system: System;
beforeAll(async () => {
  system = await startSystem('monolith');
});
afterAll(() => system?.close());

const STOCK = 1_000_000;

describe('rollback drill: orders', () => {
  it('when 2 000 orders and cancels run while the orders group flips monolith → service → monolith, then every order lands once and the stock adds up', async () => {
    const app = { url: system.url, db: system.writerDb('auth') };
    const stocked = await listing(await supplier(app), { stockKg: STOCK, minOrderKg: 1 });
    const buyers: Actor[] = [];
    for (let w = 0; w < 8; w++) buyers.push(await buyer(app));
    const placed = new Map<string, { id: number; quantityKg: number }>();
    const cancelled = new Set<number>();
    const lastOrder: (number | undefined)[] = [];
    const report = await runDrill({
      system,
      service: 'orders',
      writes: 2_000,
      concurrency: 8,
      switchAt: [600, 1_300],
      // Orders with an Idempotency-Key (the same on a retry), and every fifth write cancels the
      // worker's previous order: both reserve or release stock through the proxy.
      write: (w, seq) => {
        const previous = lastOrder[w];
        if (seq % 5 === 4 && previous !== undefined && !cancelled.has(previous))
          return buyers[w]!.client.post(`/api/orders/${previous}/cancel`);
        return buyers[w]!.client.post(
          '/api/orders',
          { items: [{ listingId: stocked.id, quantityKg: 1 + (seq % 3) }] },
          { 'idempotency-key': `drill-${seq}` },
        );
      },
      onSuccess: (w, seq, res) => {
        const order = res.body.order as { id: number; status: string; items: { quantityKg: number }[] };
        if (order.status === 'cancelled') cancelled.add(order.id);
        else {
          placed.set(`drill-${seq}`, { id: order.id, quantityKg: order.items[0]!.quantityKg });
          lastOrder[w] = order.id;
        }
      },
    });

    const data = system.data.orders;
    await drain(data);
    await drain(system.data.listings);
    const verdicts = await verify(data);
    const sides = await Promise.all(
      (['monolith', 'service'] as const).map(async (side) => {
        const buyerColumn = side === 'monolith' ? 'buyer_user_id' : 'buyer_id';
        const rows = (
          await data.pools[side].query(
            `SELECT o.id::int, o.status, k.key FROM orders o JOIN idempotency_keys k ON k.user_id = o.${buyerColumn} AND (k.response_body -> 'order' ->> 'id')::bigint = o.id
             WHERE k.key LIKE 'drill-%'`,
          )
        ).rows as { id: number; status: string; key: string }[];
        const byKey = new Map(rows.map((r) => [r.key, r]));
        return {
          lost: [...placed].filter(([key, o]) => byKey.get(key)?.id !== o.id).length,
          duplicated: rows.length - byKey.size + rows.filter((r) => !placed.has(r.key)).length,
          cancelMismatch: rows.filter((r) => (r.status === 'cancelled') !== cancelled.has(r.id)).length,
        };
      }),
    );
    const held = [...placed.values()].filter((o) => !cancelled.has(o.id)).reduce((sum, o) => sum + o.quantityKg, 0);
    const stockNow = (await new HttpClient(system.url).get(`/api/listings/${stocked.id}`)).body.listing.stockKg;
    console.log(
      summary(report, {
        monolith: sides[0],
        service: sides[1],
        cancels: cancelled.size,
        stockHeldKg: held,
        stockOffByKg: STOCK - held - stockNow,
        checksumsEqual: verdicts.every((v) => v.equal),
      }),
    );

    expect(report.failures, report.failures.join('\n')).toEqual([]);
    expect(report.writes).toBe(2_000);
    expect(report.switches.map((s) => [s.from, s.to, s.outcome])).toEqual([
      ['monolith', 'service', 'switched'],
      ['service', 'monolith', 'switched'],
    ]);
    expect(sides).toEqual([
      { lost: 0, duplicated: 0, cancelMismatch: 0 },
      { lost: 0, duplicated: 0, cancelMismatch: 0 },
    ]);
    expect(verdicts.filter((v) => !v.equal)).toEqual([]);
    // Every order's stock was reserved exactly once, and every cancel gave it back exactly once.
    expect(stockNow).toBe(STOCK - held);
    expect(cancelled.size).toBeGreaterThan(300);
  }, 120_000);
});
