import fs from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buyer, listing, supplier } from '@strangler/stack/testing';
import { startSystem, type System } from '../../src/system.ts';
import { describeNeeds } from '../../src/contract-targets.ts';

/**
 * With the orders group shadowed and its writes mirrored, the monolith takes the order and the
 * orders service runs a dry-run copy of it. The copy reserves stock too — at listings, through the
 * proxy, like any order — and that internal call must stay a dry run: otherwise every shadowed
 * order holds its stock twice, and the copy's hold is never released.
 */
let sys: System;

beforeAll(async () => {
  sys = await startSystem('mixed');
  const text = await fs.readFile(sys.routesFile, 'utf8');
  const shadowed = text.replace(
    /orders: \{ mode: shadow, target: orders \}/,
    'orders: { mode: shadow, target: orders, shadow: { writes: true } }',
  );
  expect(shadowed).not.toBe(text);
  await fs.writeFile(sys.routesFile, shadowed);
  await sys.admin.reload();
});
afterAll(() => sys?.close());

const app = () => ({ url: sys.url, db: sys.writerDb('auth') });

describeNeeds(['own-system'], 'a shadowed order', () => {
  it('when an order is mirrored to the orders service as a dry run, then its reservation at listings, made through the proxy, is a dry run too', async () => {
    const s = await supplier(app());
    const l = await listing(s, { stockKg: 100, minOrderKg: 10 });
    const { client } = await buyer(app());
    // No Idempotency-Key: with one, the copy's reservation would share the original's key and be
    // replayed rather than made, which hides the leak rather than fixing it.
    const res = await client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 20 }] });
    expect(res.status).toBe(201);
    // The mirror ran, and reached the orders service's answer.
    await expect
      .poll(
        async () =>
          (await sys.proxy.shadowing.results.counters({ route: 'orders', since: new Date(Date.now() - 60_000) })).routes.reduce(
            (n, r) => n + r.samples,
            0,
          ),
        { timeout: 10_000 },
      )
      .toBeGreaterThan(0);
    const held = await sys.data.listings.pools.service.query(
      'SELECT count(*)::int AS n FROM stock_reservation_items WHERE listing_id = $1',
      [l.id],
    );
    expect(held.rows[0].n).toBe(1);
    expect((await client.get(`/api/listings/${l.id}`)).body.listing.stockKg).toBe(80);
  });

  it('when a client sends the dry-run header itself, then the proxy drops it and the write is real', async () => {
    const s = await supplier(app());
    const l = await listing(s, { stockKg: 50, minOrderKg: 5 });
    const { client } = await buyer(app());
    // The header's name written out, not imported: this is an outside client forging it, as an attacker would.
    const res = await client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 5 }] }, { 'x-strangler-shadow': '1' });
    expect(res.status).toBe(201);
    expect((await client.get(`/api/orders/${res.body.order.id}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500)); // the mirror's copy, had it leaked, would have reserved by now
    expect((await client.get(`/api/listings/${l.id}`)).body.listing.stockKg).toBe(45);
  });
});
