import { beforeAll, describe, expect, it } from 'vitest';
import { admin, buyer, listing, listingBody, supplier, type HttpClient } from '@strangler/stack/testing';
import { describeTargets, itNeeds, type ContractTarget } from '../../src/contract-targets.ts';

// One contract for whoever serves these routes: the monolith, or the listings service behind the proxy.
describeTargets('listings', (target) => {
  let app: ContractTarget;
  let anon: HttpClient;
  beforeAll(() => {
    app = target();
    anon = app.client();
  });

  describe('POST /api/listings', () => {
    it('when a supplier with a profile sends a valid listing, then 201 with the listing under their supplier', async () => {
      const s = await supplier(app);
      const res = await s.client.post('/api/listings', listingBody({ title: '  Chuao criollo  ', stockKg: 300 }));
      expect(res.status).toBe(201);
      expect(res.headers.get('location')).toBe(`/api/listings/${res.body.listing.id}`);
      expect(res.body.listing).toMatchObject({
        supplierId: s.supplier.id,
        supplier: { id: s.supplier.id, name: s.supplier.name, country: 'Peru', rating: null },
        title: 'Chuao criollo',
        stockKg: 300,
        status: 'active',
        harvestDate: '2026-03-15',
      });
      expect(res.body.listing.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });

    it('when fields are out of bounds, then 400 names each of them', async () => {
      const s = await supplier(app);
      const res = await s.client.post(
        '/api/listings',
        listingBody({
          variety: 'robusta',
          pricePerKgCents: 12.5,
          stockKg: -1,
          minOrderKg: 0,
          harvestDate: '2999-01-01',
          currency: 'GBP',
          title: 'ab',
        }),
      );
      expect(res.status).toBe(400);
      expect(Object.keys(res.body.error.fields).sort()).toEqual([
        'currency',
        'harvestDate',
        'minOrderKg',
        'pricePerKgCents',
        'stockKg',
        'title',
        'variety',
      ]);
    });

    it('when the harvest date is not a real date, then 400', async () => {
      const s = await supplier(app);
      const res = await s.client.post('/api/listings', listingBody({ harvestDate: '2026-02-30' }));
      expect(res.status).toBe(400);
      expect(res.body.error.fields.harvestDate).toBe('must be a real date');
    });

    it('when a buyer tries, then 403; when anonymous, then 401', async () => {
      const b = await buyer(app);
      expect((await b.client.post('/api/listings', listingBody())).status).toBe(403);
      const res = await anon.post('/api/listings', listingBody());
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthenticated');
    });

    it('when a supplier has no profile yet, then 403 telling them to create it', async () => {
      const s = await buyer(app, 'supplier');
      const res = await s.client.post('/api/listings', listingBody());
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/supplier profile/);
    });

    it('when a supplier names another supplier, then 403', async () => {
      const [a, b] = [await supplier(app), await supplier(app)];
      expect((await a.client.post('/api/listings', listingBody({ supplierId: b.supplier.id }))).status).toBe(403);
    });

    // Admins cannot register: the fixture writes the row.
    itNeeds(['database'], 'when an admin creates one, then the supplier must be named and exist', async () => {
      const ad = await admin(app);
      const s = await supplier(app);
      expect((await ad.client.post('/api/listings', listingBody())).body.error.fields).toEqual({
        supplierId: 'is required when an admin creates a listing',
      });
      expect((await ad.client.post('/api/listings', listingBody({ supplierId: 99_999_999 }))).status).toBe(400);
      const ok = await ad.client.post('/api/listings', listingBody({ supplierId: s.supplier.id }));
      expect(ok.status).toBe(201);
      expect(ok.body.listing.supplierId).toBe(s.supplier.id);
    });
  });

  describe('GET /api/listings/:id', () => {
    it('when the listing is active, then anyone can read it', async () => {
      const l = await listing(await supplier(app));
      const res = await anon.get(`/api/listings/${l.id}`);
      expect(res.status).toBe(200);
      expect(res.body.listing).toEqual(l);
    });

    it('when the id is unknown or not a number, then 404 listing_not_found', async () => {
      for (const id of ['99999999', 'abc', '0', '-1', '1e3', '99999999999999999999']) {
        const res = await anon.get(`/api/listings/${id}`);
        expect(res.status, id).toBe(404);
        expect(res.body.error.code).toBe('listing_not_found');
      }
    });

    it('when the listing is archived, then only its supplier sees it', async () => {
      const s = await supplier(app);
      const l = await listing(s);
      await s.client.post(`/api/listings/${l.id}/archive`);
      expect((await anon.get(`/api/listings/${l.id}`)).status).toBe(404);
      expect((await (await supplier(app)).client.get(`/api/listings/${l.id}`)).status).toBe(404);
      expect((await s.client.get(`/api/listings/${l.id}`)).body.listing.status).toBe('archived');
    });

    itNeeds(['database'], 'when the listing is archived, then admins see it too', async () => {
      const s = await supplier(app);
      const l = await listing(s);
      await s.client.post(`/api/listings/${l.id}/archive`);
      expect((await (await admin(app)).client.get(`/api/listings/${l.id}`)).status).toBe(200);
    });
  });

  describe('PATCH /api/listings/:id', () => {
    it('when the owner changes some fields, then only those change and updatedAt moves', async () => {
      const s = await supplier(app);
      const l = await listing(s);
      const res = await s.client.patch(`/api/listings/${l.id}`, { pricePerKgCents: 1999, description: 'Now sun-dried.' });
      expect(res.status).toBe(200);
      expect(res.body.listing).toMatchObject({ ...l, pricePerKgCents: 1999, description: 'Now sun-dried.', updatedAt: expect.any(String) });
      expect(res.body.listing.updatedAt > l.updatedAt).toBe(true);
    });

    it('when the body is empty or has unknown fields, then 400', async () => {
      const s = await supplier(app);
      const l = await listing(s);
      expect((await s.client.patch(`/api/listings/${l.id}`, {})).body.error.fields).toEqual({ _: 'send at least one field to change' });
      expect((await s.client.patch(`/api/listings/${l.id}`, { status: 'active' })).body.error.fields).toMatchObject({
        status: 'is not a known field; remove it',
      });
      expect((await s.client.patch(`/api/listings/${l.id}`, { supplierId: 1 })).status).toBe(400);
    });

    it('when another supplier tries, then 403 and nothing changes', async () => {
      const l = await listing(await supplier(app));
      const res = await (await supplier(app)).client.patch(`/api/listings/${l.id}`, { title: 'Hijacked' });
      expect(res.status).toBe(403);
      expect((await anon.get(`/api/listings/${l.id}`)).body.listing.title).toBe(l.title);
    });

    itNeeds(['database'], 'when an admin edits any listing, then it changes', async () => {
      const l = await listing(await supplier(app));
      expect((await (await admin(app)).client.patch(`/api/listings/${l.id}`, { grade: 'Grade I' })).body.listing.grade).toBe('Grade I');
    });

    it('when the listing is archived, then 409 listing_archived', async () => {
      const s = await supplier(app);
      const l = await listing(s);
      await s.client.post(`/api/listings/${l.id}/archive`);
      const res = await s.client.patch(`/api/listings/${l.id}`, { title: 'Back again' });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('listing_archived');
    });

    it('when the listing does not exist, then 404', async () => {
      const s = await supplier(app);
      expect((await s.client.patch('/api/listings/99999999', { title: 'Ghost listing' })).status).toBe(404);
    });
  });

  describe('POST /api/listings/:id/archive', () => {
    it('when the owner archives, then it leaves the public list; a second archive is 409', async () => {
      const s = await supplier(app);
      const l = await listing(s, { title: `Archivable ${Date.now()}` });
      const res = await s.client.post(`/api/listings/${l.id}/archive`);
      expect(res.status).toBe(200);
      expect(res.body.listing.status).toBe('archived');
      const search = await anon.get(`/api/listings?q=${encodeURIComponent(l.title)}`);
      expect(search.body.total).toBe(0);
      expect((await s.client.post(`/api/listings/${l.id}/archive`)).status).toBe(409);
    });

    it('when a buyer or another supplier tries, then 403', async () => {
      const l = await listing(await supplier(app));
      expect((await (await buyer(app)).client.post(`/api/listings/${l.id}/archive`)).status).toBe(403);
      expect((await (await supplier(app)).client.post(`/api/listings/${l.id}/archive`)).status).toBe(403);
    });
  });
});
