import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '@strangler/stack/testing';
import { startTestListings, supplierWithListing } from './support.ts';

let svc: Awaited<ReturnType<typeof startTestListings>>;
let anon: HttpClient;
beforeAll(async () => {
  svc = await startTestListings();
  anon = new HttpClient(svc.url);
});
afterAll(() => svc?.drop());

const stockOf = async (id: number): Promise<number> => (await anon.get(`/api/listings/${id}`)).body.listing.stockKg;

describe('POST /api/reservations', () => {
  it('when a buyer reserves, then stock is taken once per key; the same key answers the same reservation', async () => {
    const { listing } = await supplierWithListing(svc, { stockKg: 100 });
    const buyer = svc.as('buyer');
    const first = await buyer.post('/api/reservations', { key: 'order-1', listingId: listing.id, quantityKg: 30 });
    expect(first.status).toBe(201);
    expect(first.body.reservation).toMatchObject({ key: 'order-1', listingId: listing.id, quantityKg: 30, status: 'reserved', releasedAt: null });
    const again = await buyer.post('/api/reservations', { key: 'order-1', listingId: listing.id, quantityKg: 30 });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await stockOf(listing.id)).toBe(70);
  });

  it('when a key is reused with another quantity, or by another user, then 422 and nothing moves', async () => {
    const { listing } = await supplierWithListing(svc, { stockKg: 100 });
    const buyer = svc.as('buyer');
    await buyer.post('/api/reservations', { key: 'order-2', listingId: listing.id, quantityKg: 10 });
    expect((await buyer.post('/api/reservations', { key: 'order-2', listingId: listing.id, quantityKg: 20 })).status).toBe(422);
    expect((await svc.as('buyer').post('/api/reservations', { key: 'order-2', listingId: listing.id, quantityKg: 10 })).status).toBe(422);
    expect(await stockOf(listing.id)).toBe(90);
  });

  it('when stock is short, the listing archived or missing, or the quantity below the minimum, then 409/404/400', async () => {
    const { client, listing } = await supplierWithListing(svc, { stockKg: 15, minOrderKg: 10 });
    const buyer = svc.as('buyer');
    expect((await buyer.post('/api/reservations', { key: 'k-short', listingId: listing.id, quantityKg: 20 })).body.error.code).toBe('insufficient_stock');
    expect((await buyer.post('/api/reservations', { key: 'k-min', listingId: listing.id, quantityKg: 5 })).body.error.fields).toEqual({ quantityKg: 'must be at least the minimum order of 10 kg' });
    expect((await buyer.post('/api/reservations', { key: 'k-missing', listingId: 99_999, quantityKg: 10 })).status).toBe(404);
    await client.post(`/api/listings/${listing.id}/archive`);
    expect((await buyer.post('/api/reservations', { key: 'k-archived', listingId: listing.id, quantityKg: 10 })).body.error.code).toBe('listing_archived');
    expect((await svc.as('supplier').post('/api/reservations', { key: 'k-role', listingId: listing.id, quantityKg: 10 })).status).toBe(403);
    expect((await client.get(`/api/listings/${listing.id}`)).body.listing.stockKg).toBe(15);
  });

  it('when many buyers race for the last stock, then exactly as many reservations succeed as the stock allows', async () => {
    const { listing } = await supplierWithListing(svc, { stockKg: 50, minOrderKg: 10 });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => svc.as('buyer').post('/api/reservations', { key: `race-${i}`, listingId: listing.id, quantityKg: 10 })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(5);
    expect(results.filter((r) => r.status === 409)).toHaveLength(3);
    expect(await stockOf(listing.id)).toBe(0);
  });
});

describe('POST /api/reservations/:key/release', () => {
  it('when released, then the stock comes back once, however often it is asked', async () => {
    const { listing } = await supplierWithListing(svc, { stockKg: 100 });
    const buyer = svc.as('buyer');
    await buyer.post('/api/reservations', { key: 'rel-1', listingId: listing.id, quantityKg: 40 });
    const results = await Promise.all([1, 2, 3].map(() => buyer.post('/api/reservations/rel-1/release')));
    expect(results.every((r) => r.status === 200 && r.body.reservation.status === 'released')).toBe(true);
    expect(await stockOf(listing.id)).toBe(100);
    expect((await buyer.get('/api/reservations/rel-1')).body.reservation.releasedAt).toMatch(/Z$/);
  });

  it("when someone else's reservation is released or asked for, then 404 and nothing moves", async () => {
    const { listing } = await supplierWithListing(svc, { stockKg: 100 });
    await svc.as('buyer').post('/api/reservations', { key: 'rel-2', listingId: listing.id, quantityKg: 40 });
    const other = svc.as('buyer');
    expect((await other.post('/api/reservations/rel-2/release')).status).toBe(404);
    expect((await other.get('/api/reservations/rel-2')).status).toBe(404);
    expect((await svc.as('admin').post('/api/reservations/rel-2/release')).status).toBe(200);
    expect(await stockOf(listing.id)).toBe(100);
    expect((await anon.post('/api/reservations/rel-2/release')).status).toBe(401);
  });
});
