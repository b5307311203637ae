import fs from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buyer, listing, supplier } from '@strangler/stack/testing';
import { startRelay } from '../../src/relay.ts';
import { startSystem, type System } from '../../src/system.ts';
import { describeNeeds } from '../../src/contract-targets.ts';

/**
 * The orders service is slow: it commits an order, but its answer comes after the proxy has
 * stopped waiting. The monolith and the service keep separate idempotency records, so sending the
 * same keyed order to the monolith as well would place it twice. One write, one side: the client
 * gets 504 with its key, and a retry with that key reaches the service, which replays the order.
 */
let sys: System;
let relay: Awaited<ReturnType<typeof startRelay>>;
let slow = true;

beforeAll(async () => {
  sys = await startSystem('services');
  relay = await startRelay(sys.services.orders.url, { delayMs: (req) => (slow && req.method === 'POST' ? 900 : 0) });
  const text = await fs.readFile(sys.routesFile, 'utf8');
  const routed = text.replace(`orders: { url: "${sys.services.orders.url}" }`, `orders: { url: "${relay.url}", timeoutMs: 400 }`);
  expect(routed).not.toBe(text);
  await fs.writeFile(sys.routesFile, routed);
  await sys.admin.reload();
});
afterAll(async () => {
  await sys?.close();
  await relay?.close();
});

const ordersOf = async (buyerId: number): Promise<{ monolith: number; service: number }> => {
  const [m, s] = await Promise.all([
    sys.data.orders.pools.monolith.query('SELECT count(*)::int AS n FROM orders WHERE buyer_user_id = $1', [buyerId]),
    sys.data.orders.pools.service.query('SELECT count(*)::int AS n FROM orders WHERE buyer_id = $1', [buyerId]),
  ]);
  return { monolith: m.rows[0].n, service: s.rows[0].n };
};

describeNeeds(['own-system'], 'a keyed order the orders service is slow to answer', () => {
  it('when the proxy stops waiting after the order was sent, then it is placed once — not again at the monolith — and the retry with its key replays it', async () => {
    const s = await supplier({ url: sys.url, db: sys.writerDb('auth') });
    const l = await listing(s, { stockKg: 100, minOrderKg: 10 });
    const { client, user } = await buyer({ url: sys.url, db: sys.writerDb('auth') });
    const order = { items: [{ listingId: l.id, quantityKg: 20 }] };

    const first = await client.post('/api/orders', order, { 'idempotency-key': 'slow-order-1' });
    expect(first.status).toBe(504);
    expect(first.body.error).toMatchObject({ code: 'upstream_timeout', idempotencyKey: 'slow-order-1' });

    // The service committed it meanwhile; the monolith never saw it (beyond the replicator's copy).
    await expect.poll(() => ordersOf(user.id), { timeout: 5000 }).toEqual({ monolith: 1, service: 1 });
    const placed = await sys.data.orders.pools.service.query('SELECT id::int AS id FROM orders WHERE buyer_id = $1', [user.id]);

    slow = false;
    const retry = await client.post('/api/orders', order, { 'idempotency-key': 'slow-order-1' });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body.order.id).toBe(placed.rows[0].id);
    expect(await ordersOf(user.id)).toEqual({ monolith: 1, service: 1 });
    expect((await client.get(`/api/listings/${l.id}`)).body.listing.stockKg).toBe(80);
  });
});
