import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drain, verify } from '@strangler/data';
import { buyer, HttpClient, listing, supplier, type Actor } from '@strangler/stack/testing';
import { checkLedger, orderLedger, runDrill, summary } from '../src/drill.ts';
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
    const ledger = orderLedger(buyers, stocked.id, 'drill-');
    const report = await runDrill({
      system,
      service: 'orders',
      writes: 2_000,
      concurrency: 8,
      switchAt: [600, 1_300],
      write: ledger.write,
      onSuccess: ledger.onSuccess,
    });

    const data = system.data.orders;
    await drain(data);
    await drain(system.data.listings);
    const verdicts = await verify(data);
    const sides = await checkLedger(data, ledger, 'drill-');
    const held = ledger.heldKg();
    const stockNow = (await new HttpClient(system.url).get(`/api/listings/${stocked.id}`)).body.listing.stockKg;
    console.log(
      summary(report, {
        monolith: sides[0],
        service: sides[1],
        cancels: ledger.cancelled.size,
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
      { lost: 0, duplicated: 0, cancelMismatch: 0, unanswered: 0 },
      { lost: 0, duplicated: 0, cancelMismatch: 0, unanswered: 0 },
    ]);
    expect(verdicts.filter((v) => !v.equal)).toEqual([]);
    // Every order's stock was reserved exactly once, and every cancel gave it back exactly once.
    expect(stockNow).toBe(STOCK - held);
    expect(ledger.cancelled.size).toBeGreaterThan(300);
  }, 120_000);
});
