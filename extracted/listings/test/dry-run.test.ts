import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRY_RUN_HEADER } from '@strangler/service-kit';
import { HttpClient } from '@strangler/stack/testing';
import { startTestListings, supplierWithListing } from './support.ts';

const DRY = { [DRY_RUN_HEADER]: '1' };
let svc: Awaited<ReturnType<typeof startTestListings>>;
let anon: HttpClient;
beforeAll(async () => {
  svc = await startTestListings();
  anon = new HttpClient(svc.url);
});
afterAll(() => svc?.drop());

describe(`dry-run writes (${DRY_RUN_HEADER}: 1)`, () => {
  it('when a listing is created in a dry run, then the answer is the real one and nothing is kept', async () => {
    const { client } = await supplierWithListing(svc);
    const before = (await client.get('/api/listings?status=all&pageSize=100')).body.total;
    const res = await client.post(
      '/api/listings',
      {
        title: 'Dry criollo',
        originCountry: 'Peru',
        originRegion: 'Piura',
        variety: 'criollo',
        grade: 'A',
        pricePerKgCents: 100,
        currency: 'USD',
        stockKg: 1,
        minOrderKg: 1,
        harvestDate: '2026-01-01',
      },
      DRY,
    );
    expect(res.status).toBe(201);
    expect(res.body.listing).toMatchObject({ title: 'Dry criollo', status: 'active' });
    expect((await anon.get(`/api/listings/${res.body.listing.id}`)).status).toBe(404);
    expect((await client.get('/api/listings?status=all&pageSize=100')).body.total).toBe(before);
  });

  it('when a listing is updated or archived in a dry run, then the answer shows the change and the row is unchanged', async () => {
    const { client, listing } = await supplierWithListing(svc);
    const patched = await client.patch(`/api/listings/${listing.id}`, { title: 'Changed title' }, DRY);
    expect(patched.body.listing.title).toBe('Changed title');
    const archived = await client.post(`/api/listings/${listing.id}/archive`, undefined, DRY);
    expect(archived.body.listing.status).toBe('archived');
    expect((await anon.get(`/api/listings/${listing.id}`)).body.listing).toMatchObject({ title: listing.title, status: 'active' });
  });

  it('when a dry run fails validation, then it answers the same error as a real write', async () => {
    const { client, listing } = await supplierWithListing(svc);
    const res = await client.patch(`/api/listings/${listing.id}`, { stockKg: -5 }, DRY);
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual({ stockKg: 'must be a whole number from 0 to 1000000' });
  });

  it('when a supplier profile or a reservation is made in a dry run, then none is kept', async () => {
    const client = svc.as('supplier');
    expect((await client.post('/api/suppliers', { name: 'Dry Finca', country: 'Peru', region: 'Piura' }, DRY)).status).toBe(201);
    expect((await client.get('/api/suppliers/mine')).status).toBe(404);
    const { listing } = await supplierWithListing(svc);
    const reserved = await svc
      .as('buyer')
      .post('/api/reservations', { key: 'dry-1', items: [{ listingId: listing.id, quantityKg: 10 }] }, DRY);
    expect(reserved.status).toBe(201);
    expect((await anon.get(`/api/listings/${listing.id}`)).body.listing.stockKg).toBe(listing.stockKg);
  });
});
