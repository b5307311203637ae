import fs from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { admin, buyer, listing, supplier, type HttpClient } from '@strangler/stack/testing';
import { describeTargets, itNeeds, type ContractTarget } from '../../src/contract-targets.ts';

// One contract for whoever serves /api/orders: the monolith, or the orders service behind the proxy.
// Either way the stock is reserved through the proxy, from whoever serves listings.
describeTargets('orders', (target) => {
  let app: ContractTarget;
  let anon: HttpClient;
  beforeAll(() => {
    app = target();
    anon = app.client();
  });

  const stockOf = async (id: number): Promise<number> => (await anon.get(`/api/listings/${id}`)).body.listing.stockKg;
  // Stock is taken by the orders side at whoever the route table sends listings writes to, and read
  // from whoever serves listings reads: previewing one group of a deployment splits the two, and the
  // read side may then be the replicator's lag behind. Against a system of its own the first read holds.
  const expectStock = (id: number, kg: number) => expect.poll(() => stockOf(id), { timeout: 5_000, interval: 50 }).toBe(kg);

  describe('POST /api/orders', () => {
    it('when a buyer orders, then 201 with the order, prices fixed at order time and stock taken', async () => {
      const s = await supplier(app);
      const a = await listing(s, { stockKg: 100, minOrderKg: 10, pricePerKgCents: 1500 });
      const b = await listing(s, { stockKg: 50, minOrderKg: 5, pricePerKgCents: 800 });
      const { client, user } = await buyer(app);
      const res = await client.post('/api/orders', {
        items: [
          { listingId: a.id, quantityKg: 20 },
          { listingId: b.id, quantityKg: 5 },
        ],
      });
      expect(res.status).toBe(201);
      expect(res.headers.get('location')).toBe(`/api/orders/${res.body.order.id}`);
      expect(res.body.order).toMatchObject({
        buyerId: user.id,
        status: 'placed',
        currency: 'USD',
        totalCents: 20 * 1500 + 5 * 800,
        items: [
          { listingId: a.id, title: a.title, quantityKg: 20, unitPriceCents: 1500, lineTotalCents: 30_000 },
          { listingId: b.id, title: b.title, quantityKg: 5, unitPriceCents: 800, lineTotalCents: 4000 },
        ],
      });
      await expectStock(a.id, 80);
      await expectStock(b.id, 45);
      await s.client.patch(`/api/listings/${a.id}`, { pricePerKgCents: 9999, title: 'Renamed later' });
      const again = await client.get(`/api/orders/${res.body.order.id}`);
      expect(again.body.order.items[0]).toMatchObject({ title: a.title, unitPriceCents: 1500 });
    });

    it('when the stock is short, then 409 insufficient_stock and nothing is taken from any item', async () => {
      const s = await supplier(app);
      const plenty = await listing(s, { stockKg: 100 });
      const scarce = await listing(s, { stockKg: 15 });
      const { client } = await buyer(app);
      const res = await client.post('/api/orders', {
        items: [
          { listingId: plenty.id, quantityKg: 10 },
          { listingId: scarce.id, quantityKg: 20 },
        ],
      });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('insufficient_stock');
      expect(res.body.error.message).toContain('Only 15 kg');
      await expectStock(plenty.id, 100);
      expect((await client.get('/api/orders')).body.total).toBe(0);
    });

    it('when below the minimum order, then 400 on that item', async () => {
      const l = await listing(await supplier(app), { minOrderKg: 25 });
      const res = await (await buyer(app)).client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] });
      expect(res.status).toBe(400);
      expect(res.body.error.fields).toEqual({ 'items.0.quantityKg': 'must be at least the minimum order of 25 kg' });
    });

    it('when a listing is archived or missing, then 409 or 404', async () => {
      const s = await supplier(app);
      const l = await listing(s);
      await s.client.post(`/api/listings/${l.id}/archive`);
      const { client } = await buyer(app);
      const archived = await client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] });
      expect(archived.status).toBe(409);
      expect(archived.body.error.code).toBe('listing_archived');
      const missing = await client.post('/api/orders', { items: [{ listingId: 99_999_999, quantityKg: 10 }] });
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('listing_not_found');
    });

    it('when items are malformed, repeated or mixed in currency, then 400', async () => {
      const s = await supplier(app);
      const usd = await listing(s);
      const eur = await listing(s, { currency: 'EUR' });
      const { client } = await buyer(app);
      expect((await client.post('/api/orders', { items: [] })).body.error.fields).toEqual({ items: 'must have at least one item' });
      expect((await client.post('/api/orders', { items: [{ listingId: 'x', quantityKg: 1.5 }] })).body.error.fields).toEqual({
        'items.0.listingId': 'must be a listing id',
        'items.0.quantityKg': 'must be a whole number of kg',
      });
      expect(
        (
          await client.post('/api/orders', {
            items: [
              { listingId: usd.id, quantityKg: 10 },
              { listingId: usd.id, quantityKg: 10 },
            ],
          })
        ).body.error.fields,
      ).toEqual({
        items: 'must not list the same listing twice',
      });
      const mixed = await client.post('/api/orders', {
        items: [
          { listingId: usd.id, quantityKg: 10 },
          { listingId: eur.id, quantityKg: 10 },
        ],
      });
      expect(mixed.status).toBe(400);
      expect(mixed.body.error.fields.items).toMatch(/same currency/);
      await expectStock(usd.id, 500);
    });

    it('when a supplier or anonymous user orders, then 403 or 401', async () => {
      const l = await listing(await supplier(app));
      expect((await (await supplier(app)).client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] })).status).toBe(403);
      expect((await anon.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] })).status).toBe(401);
    });
  });

  describe('POST /api/orders — concurrency and idempotency', () => {
    it('when two buyers order the last stock at once, then exactly one wins and stock never goes negative', async () => {
      const l = await listing(await supplier(app), { stockKg: 30, minOrderKg: 30 });
      const [a, b] = [await buyer(app), await buyer(app)];
      const results = await Promise.all([a, b].map((x) => x.client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 30 }] })));
      expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
      await expectStock(l.id, 0);
    });

    it('when many buyers race for a listing, then the stock sold equals the orders accepted', async () => {
      const l = await listing(await supplier(app), { stockKg: 100, minOrderKg: 10 });
      const buyers = await Promise.all(Array.from({ length: 15 }, () => buyer(app)));
      const results = await Promise.all(buyers.map((x) => x.client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] })));
      expect(results.filter((r) => r.status === 201)).toHaveLength(10);
      expect(results.filter((r) => r.status === 409)).toHaveLength(5);
      await expectStock(l.id, 0);
    });

    it('when the same Idempotency-Key is sent twice, then one order and the same response', async () => {
      const l = await listing(await supplier(app), { stockKg: 100 });
      const { client } = await buyer(app);
      const body = { items: [{ listingId: l.id, quantityKg: 10 }] };
      const first = await client.post('/api/orders', body, { 'idempotency-key': 'order-abc-1' });
      const second = await client.post('/api/orders', body, { 'idempotency-key': 'order-abc-1' });
      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.body).toEqual(first.body);
      expect(second.headers.get('idempotent-replayed')).toBe('true');
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      expect((await client.get('/api/orders')).body.total).toBe(1);
      await expectStock(l.id, 90);
    });

    it('when the same key arrives concurrently, then one order: the proxy says the others are in flight (409), and a retry replays it', async () => {
      const l = await listing(await supplier(app), { stockKg: 100 });
      const { client } = await buyer(app);
      const body = { items: [{ listingId: l.id, quantityKg: 10 }] };
      const results = await Promise.all(
        Array.from({ length: 5 }, () => client.post('/api/orders', body, { 'idempotency-key': 'same-key-concurrent' })),
      );
      const placed = results.filter((r) => r.status === 201);
      expect(placed).toHaveLength(1);
      for (const r of results.filter((x) => x.status !== 201)) expect(r.body.error.code).toBe('idempotency_key_in_flight');
      const retry = await client.post('/api/orders', body, { 'idempotency-key': 'same-key-concurrent' });
      expect([retry.status, retry.body.order.id, retry.headers.get('idempotent-replayed')]).toEqual([
        201,
        placed[0]!.body.order.id,
        'true',
      ]);
      await expectStock(l.id, 90);
    });

    it('when a key is reused with another body, then 422; another user may use the same key', async () => {
      const l = await listing(await supplier(app), { stockKg: 100 });
      const { client } = await buyer(app);
      await client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] }, { 'idempotency-key': 'k-1' });
      const reused = await client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 20 }] }, { 'idempotency-key': 'k-1' });
      expect(reused.status).toBe(422);
      expect(reused.body.error.code).toBe('idempotency_key_reused');
      const other = await (
        await buyer(app)
      ).client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] }, { 'idempotency-key': 'k-1' });
      expect(other.status).toBe(201);
      await expectStock(l.id, 80);
    });

    it('when the first attempt failed, then the same key can be retried', async () => {
      const l = await listing(await supplier(app), { stockKg: 10, minOrderKg: 10 });
      const holder = await buyer(app);
      const { client } = await buyer(app);
      const body = { items: [{ listingId: l.id, quantityKg: 10 }] };
      const held = (await holder.client.post('/api/orders', body)).body.order;
      expect((await client.post('/api/orders', body, { 'idempotency-key': 'retry-me' })).status).toBe(409);
      // The stock comes back through the orders side, where the retry takes it again: no write to the
      // listing between the two, which a preview of listings would send to the other side.
      expect((await holder.client.post(`/api/orders/${held.id}/cancel`)).status).toBe(200);
      expect((await client.post('/api/orders', body, { 'idempotency-key': 'retry-me' })).status).toBe(201);
    });

    it('when the key is malformed, then 400 invalid_idempotency_key', async () => {
      const l = await listing(await supplier(app));
      const { client } = await buyer(app);
      for (const key of ['', ' ', 'x'.repeat(256), 'with space']) {
        const res = await client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] }, { 'idempotency-key': key });
        expect(res.status, JSON.stringify(key)).toBe(400);
        expect(res.body.error.code).toBe('invalid_idempotency_key');
      }
    });
  });

  describe('GET /api/orders and /api/orders/:id', () => {
    it('when a buyer lists, then only their orders, newest first, filterable by status', async () => {
      const l = await listing(await supplier(app), { stockKg: 1000 });
      const me = await buyer(app);
      const other = await buyer(app);
      const ids: number[] = [];
      for (let i = 0; i < 3; i++)
        ids.push((await me.client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] })).body.order.id);
      await other.client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] });
      await me.client.post(`/api/orders/${ids[0]}/cancel`);
      const all = await me.client.get('/api/orders');
      expect(all.body.items.map((o: { id: number }) => o.id)).toEqual([...ids].reverse());
      expect(all.body.total).toBe(3);
      expect((await me.client.get('/api/orders?status=cancelled')).body.items.map((o: { id: number }) => o.id)).toEqual([ids[0]]);
      expect((await me.client.get('/api/orders?status=lost')).status).toBe(400);
    });

    it("when someone else's order is asked for, then 404; anonymously, 401", async () => {
      const l = await listing(await supplier(app));
      const owner = await buyer(app);
      const order = (await owner.client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] })).body.order;
      expect((await owner.client.get(`/api/orders/${order.id}`)).body.order).toEqual(order);
      const res = await (await buyer(app)).client.get(`/api/orders/${order.id}`);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('order_not_found');
      expect((await anon.get(`/api/orders/${order.id}`)).status).toBe(401);
      expect((await anon.get('/api/orders')).status).toBe(401);
    });

    // Admins cannot register: the fixture writes the row.
    itNeeds(['database'], "when an admin asks for someone else's order, then they see it", async () => {
      const l = await listing(await supplier(app));
      const order = (await (await buyer(app)).client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] })).body.order;
      expect((await (await admin(app)).client.get(`/api/orders/${order.id}`)).body.order).toEqual(order);
    });
  });

  describe('POST /api/orders/:id/cancel', () => {
    it('when a placed order is cancelled, then its stock comes back; a second cancel is 409', async () => {
      const l = await listing(await supplier(app), { stockKg: 100 });
      const { client } = await buyer(app);
      const order = (await client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 40 }] })).body.order;
      await expectStock(l.id, 60);
      const res = await client.post(`/api/orders/${order.id}/cancel`);
      expect(res.status).toBe(200);
      expect(res.body.order.status).toBe('cancelled');
      await expectStock(l.id, 100);
      const again = await client.post(`/api/orders/${order.id}/cancel`);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('order_not_cancellable');
      await expectStock(l.id, 100);
    });

    // Shipping is no API of the shop's: the test marks the row.
    itNeeds(['database'], 'when the order has shipped, then 409 and stock is untouched', async () => {
      const l = await listing(await supplier(app), { stockKg: 100 });
      const { client } = await buyer(app);
      const order = (await client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] })).body.order;
      await app.writerDb('orders').query(`UPDATE orders SET status = 'shipped' WHERE id = $1`, [order.id]);
      const res = await client.post(`/api/orders/${order.id}/cancel`);
      expect(res.status).toBe(409);
      expect(res.body.error.message).toContain('shipped');
      await expectStock(l.id, 90);
    });

    it('when someone else cancels, then 404; when two cancels race, then stock comes back once', async () => {
      const l = await listing(await supplier(app), { stockKg: 100 });
      const { client } = await buyer(app);
      const order = (await client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] })).body.order;
      expect((await (await buyer(app)).client.post(`/api/orders/${order.id}/cancel`)).status).toBe(404);
      const results = await Promise.all([1, 2, 3].map(() => client.post(`/api/orders/${order.id}/cancel`)));
      expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409]);
      await expectStock(l.id, 100);
    });
  });
  describe('stock through the proxy', () => {
    itNeeds(
      ['route-table'],
      'when the listings routes are frozen (their data moving), then 503 service_unavailable with Retry-After; no order, no stock held',
      async () => {
        const l = await listing(await supplier(app), { stockKg: 100 });
        const { client } = await buyer(app);
        const table = await fs.readFile(app.system.routesFile, 'utf8');
        await fs.writeFile(app.system.routesFile, table.replace('listings: { mode: ', 'listings: { frozen: true, mode: '));
        await app.system.admin.reload();
        try {
          const res = await client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] });
          expect(res.status).toBe(503);
          expect(res.body.error.code).toBe('service_unavailable');
          expect(res.headers.get('retry-after')).toBe('1');
        } finally {
          await fs.writeFile(app.system.routesFile, table);
          await app.system.admin.reload();
        }
        expect((await client.get('/api/orders')).body.total).toBe(0);
        await expectStock(l.id, 100);
      },
    );

    itNeeds(
      ['database'],
      'when the order cannot be written after its stock was reserved, then the reservation is released (compensation)',
      async () => {
        const l = await listing(await supplier(app), { stockKg: 100 });
        const { client } = await buyer(app);
        const orders = app.writerDb('orders');
        // A real failure of the order's own write: its database refuses new orders for a moment. (No
        // Idempotency-Key: with one, the proxy would retry the 500 on the monolith, as it may.)
        await orders.query('ALTER TABLE orders ADD CONSTRAINT contract_refuses_orders CHECK (total_cents < 0) NOT VALID');
        try {
          expect((await client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] })).status).toBe(500);
        } finally {
          await orders.query('ALTER TABLE orders DROP CONSTRAINT contract_refuses_orders');
        }
        await expectStock(l.id, 100);
        expect((await client.post('/api/orders', { items: [{ listingId: l.id, quantityKg: 10 }] })).status).toBe(201);
        await expectStock(l.id, 90);
      },
    );
  });
});
