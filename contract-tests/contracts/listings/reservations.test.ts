import { beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { admin, buyer, listing, supplier, type HttpClient } from '@strangler/stack/testing';
import { describeTargets, itNeeds, type ContractTarget } from '../../src/contract-targets.ts';

// Reservations hold an order's stock: the orders side (the monolith's module or the orders service)
// reserves through the proxy, so both sides must answer them alike.
describeTargets('reservations', (target) => {
  let app: ContractTarget;
  let anon: HttpClient;
  beforeAll(() => {
    app = target();
    anon = app.client();
  });

  const stockOf = async (id: number): Promise<number> => (await anon.get(`/api/listings/${id}`)).body.listing.stockKg;
  /** A supplier's client and a listing of theirs. */
  const supplierWithListing = async (fields: Record<string, unknown> = {}) => {
    const s = await supplier(app);
    return { client: s.client, listing: await listing(s, { stockKg: 100, minOrderKg: 10, pricePerKgCents: 1200, ...fields }) };
  };
  const aBuyer = async (): Promise<HttpClient> => (await buyer(app)).client;
  // Keys are global, and a deployment keeps those of earlier runs: each run reserves under its own.
  const run = randomUUID().slice(0, 8);
  const key = (name: string): string => `${name}-${run}`;

  describe('POST /api/reservations', () => {
    it('when a buyer reserves, then the stock of every item is taken once per key; the same key answers the same reservation', async () => {
      const { listing: a } = await supplierWithListing({ stockKg: 100, pricePerKgCents: 1500 });
      const { listing: b } = await supplierWithListing({ stockKg: 50, minOrderKg: 5, pricePerKgCents: 800 });
      const client = await aBuyer();
      const items = [
        { listingId: b.id, quantityKg: 5 },
        { listingId: a.id, quantityKg: 30 },
      ];
      const first = await client.post('/api/reservations', { key: key('order-1'), items });
      expect(first.status).toBe(201);
      expect(first.body.reservation).toMatchObject({
        key: key('order-1'),
        status: 'reserved',
        releasedAt: null,
        items: [
          { listingId: a.id, title: a.title, quantityKg: 30, unitPriceCents: 1500, currency: 'USD' },
          { listingId: b.id, title: b.title, quantityKg: 5, unitPriceCents: 800, currency: 'USD' },
        ],
      });
      const again = await client.post('/api/reservations', { key: key('order-1'), items: [...items].reverse() });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
      expect([await stockOf(a.id), await stockOf(b.id)]).toEqual([70, 45]);
    });

    it('when a key is reused with other items, or by another user, then 422 and nothing moves', async () => {
      const { listing } = await supplierWithListing({ stockKg: 100 });
      const client = await aBuyer();
      await client.post('/api/reservations', { key: key('order-2'), items: [{ listingId: listing.id, quantityKg: 10 }] });
      expect(
        (await client.post('/api/reservations', { key: key('order-2'), items: [{ listingId: listing.id, quantityKg: 20 }] })).status,
      ).toBe(422);
      expect(
        (await (await aBuyer()).post('/api/reservations', { key: key('order-2'), items: [{ listingId: listing.id, quantityKg: 10 }] }))
          .status,
      ).toBe(422);
      expect(await stockOf(listing.id)).toBe(90);
    });

    it('when one item fails its check, then nothing is taken from any item, and the error is the one an order gets', async () => {
      const { client: owner, listing } = await supplierWithListing({ stockKg: 15, minOrderKg: 10 });
      const { listing: plenty } = await supplierWithListing({ stockKg: 100 });
      const client = await aBuyer();
      const reserve = (name: string, quantityKg: number, listingId = listing.id) =>
        client.post('/api/reservations', {
          key: key(name),
          items: [
            { listingId: plenty.id, quantityKg: 10 },
            { listingId, quantityKg },
          ],
        });
      const short = await reserve('k-short', 20);
      expect(short.status).toBe(409);
      expect(short.body.error).toMatchObject({
        code: 'insufficient_stock',
        message: `Only 15 kg of listing ${listing.id} left; lower the quantity.`,
      });
      expect((await reserve('k-min', 5)).body.error.fields).toEqual({
        'items.1.quantityKg': 'must be at least the minimum order of 10 kg',
      });
      expect((await reserve('k-missing', 10, 99_999)).body.error).toMatchObject({
        code: 'listing_not_found',
        message: 'Listing 99999 does not exist.',
      });
      await owner.post(`/api/listings/${listing.id}/archive`);
      expect((await reserve('k-archived', 10)).body.error.code).toBe('listing_archived');
      expect(
        (
          await (
            await supplier(app)
          ).client.post('/api/reservations', { key: key('k-role'), items: [{ listingId: plenty.id, quantityKg: 10 }] })
        ).status,
      ).toBe(403);
      expect([await stockOf(plenty.id), (await owner.get(`/api/listings/${listing.id}`)).body.listing.stockKg]).toEqual([100, 15]);
    });

    it('when items are priced in two currencies, then 400 on items', async () => {
      const { listing: usd } = await supplierWithListing();
      const { listing: eur } = await supplierWithListing({ currency: 'EUR' });
      const res = await (
        await aBuyer()
      ).post('/api/reservations', {
        key: key('k-mixed'),
        items: [
          { listingId: usd.id, quantityKg: 10 },
          { listingId: eur.id, quantityKg: 10 },
        ],
      });
      expect(res.status).toBe(400);
      expect(res.body.error.fields.items).toMatch(/same currency/);
    });

    it('when many buyers race for the last stock, then exactly as many reservations succeed as the stock allows', async () => {
      const { listing } = await supplierWithListing({ stockKg: 50, minOrderKg: 10 });
      const results = await Promise.all(
        Array.from({ length: 8 }, async (_, i) =>
          (await aBuyer()).post('/api/reservations', { key: key(`race-${i}`), items: [{ listingId: listing.id, quantityKg: 10 }] }),
        ),
      );
      expect(results.filter((r) => r.status === 201)).toHaveLength(5);
      expect(results.filter((r) => r.status === 409)).toHaveLength(3);
      expect(await stockOf(listing.id)).toBe(0);
    });
  });

  describe('POST /api/reservations/:key/release', () => {
    it('when released, then the stock comes back once, however often it is asked; reserving the key again takes it again', async () => {
      const { listing } = await supplierWithListing({ stockKg: 100 });
      const client = await aBuyer();
      const items = [{ listingId: listing.id, quantityKg: 40 }];
      await client.post('/api/reservations', { key: key('rel-1'), items });
      const results = await Promise.all([1, 2, 3].map(() => client.post(`/api/reservations/${key('rel-1')}/release`)));
      expect(results.every((r) => r.status === 200 && r.body.reservation.status === 'released')).toBe(true);
      expect(await stockOf(listing.id)).toBe(100);
      expect((await client.get(`/api/reservations/${key('rel-1')}`)).body.reservation.releasedAt).toMatch(/Z$/);
      // An order that failed after reserving released its stock; its retry reserves the same key again.
      const retried = await client.post('/api/reservations', { key: key('rel-1'), items });
      expect(retried.status).toBe(200);
      expect(retried.body.reservation).toMatchObject({ status: 'reserved', releasedAt: null });
      expect(await stockOf(listing.id)).toBe(60);
    });

    it("when someone else's reservation is released or asked for, then 404 and nothing moves", async () => {
      const { listing } = await supplierWithListing({ stockKg: 100 });
      await (await aBuyer()).post('/api/reservations', { key: key('rel-2'), items: [{ listingId: listing.id, quantityKg: 40 }] });
      const other = await aBuyer();
      expect((await other.post(`/api/reservations/${key('rel-2')}/release`)).status).toBe(404);
      expect((await other.get(`/api/reservations/${key('rel-2')}`)).status).toBe(404);
      expect((await anon.post(`/api/reservations/${key('rel-2')}/release`)).status).toBe(401);
      expect(await stockOf(listing.id)).toBe(60);
    });

    // Admins cannot register: the fixture writes the row.
    itNeeds(['database'], "when an admin releases someone's reservation, then its stock comes back", async () => {
      const { listing } = await supplierWithListing({ stockKg: 100 });
      await (await aBuyer()).post('/api/reservations', { key: key('rel-3'), items: [{ listingId: listing.id, quantityKg: 40 }] });
      expect((await (await admin(app)).client.post(`/api/reservations/${key('rel-3')}/release`)).status).toBe(200);
      expect(await stockOf(listing.id)).toBe(100);
    });
  });
});
