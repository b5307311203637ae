import { beforeAll, describe, expect, it } from 'vitest';
import { buyer, listing, supplier, type Actor, type HttpClient } from '@strangler/stack/testing';
import { describeTargets, type ContractTarget } from '../../src/contract-targets.ts';

// One contract for whoever serves these routes: the monolith, or the listings service behind the proxy.
describeTargets(
  'listing search',
  (target) => {
    // Search runs over a database holding only this file's listings, so totals are exact.
    let app: ContractTarget;
    let anon: HttpClient;
    let peru: Actor & { supplier: { id: number; name: string } };
    let ghana: Actor & { supplier: { id: number; name: string } };
    const ids: Record<string, number> = {};

    beforeAll(async () => {
      app = target();
      anon = app.client();
      peru = await supplier(app);
      ghana = await supplier(app);
      const add = async (key: string, owner: Actor, fields: Record<string, unknown>) => {
        ids[key] = (await listing(owner, fields)).id;
      };
      await add('piuraCriollo', peru, {
        title: 'Piura white criollo',
        originRegion: 'Piura',
        variety: 'criollo',
        pricePerKgCents: 2000,
        stockKg: 500,
        minOrderKg: 10,
        harvestDate: '2026-05-01',
      });
      await add('cuscoTrinitario', peru, {
        title: 'Cusco trinitario',
        originRegion: 'Cusco',
        variety: 'trinitario',
        pricePerKgCents: 900,
        stockKg: 5,
        minOrderKg: 10,
        harvestDate: '2026-01-10',
        description: 'Notes of 100% red fruit',
      });
      await add('ashanti', ghana, {
        title: 'Ashanti bulk',
        originCountry: 'Ghana',
        originRegion: 'Ashanti',
        variety: 'forastero',
        pricePerKgCents: 350,
        stockKg: 10_000,
        minOrderKg: 100,
        harvestDate: '2025-11-20',
      });
      await add('archived', ghana, {
        title: 'Old Ashanti lot',
        originCountry: 'Ghana',
        originRegion: 'Ashanti',
        variety: 'forastero',
        pricePerKgCents: 300,
        stockKg: 100,
        minOrderKg: 10,
      });
      await ghana.client.post(`/api/listings/${ids.archived}/archive`);
    });

    const titles = async (query: string, client = anon): Promise<number[]> => {
      const res = await client.get(`/api/listings?${query}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.items.map((l: { id: number }) => l.id);
    };

    describe('GET /api/listings — filters', () => {
      it('when nothing is asked, then active listings newest first, archived ones left out', async () => {
        expect(await titles('')).toEqual([ids.ashanti, ids.cuscoTrinitario, ids.piuraCriollo]);
      });

      it('when q has several words, then every word must match somewhere, case-insensitively', async () => {
        expect(await titles('q=PIURA')).toEqual([ids.piuraCriollo]);
        expect(await titles('q=peru%20trinitario')).toEqual([ids.cuscoTrinitario]);
        expect(await titles('q=ghana%20criollo')).toEqual([]);
        expect(await titles(`q=${encodeURIComponent(peru.supplier.name)}`)).toEqual([ids.cuscoTrinitario, ids.piuraCriollo]);
        expect(await titles('q=red%20fruit')).toEqual([ids.cuscoTrinitario]);
      });

      it('when q holds LIKE wildcards, then they match literally', async () => {
        expect(await titles('q=100%25')).toEqual([ids.cuscoTrinitario]);
        expect(await titles('q=%25')).toEqual([ids.cuscoTrinitario]);
        expect(await titles('q=_')).toEqual([]);
      });

      it('when origin is a country or a region, then it matches either, whole', async () => {
        expect(await titles('origin=ghana')).toEqual([ids.ashanti]);
        expect(await titles('origin=Cusco')).toEqual([ids.cuscoTrinitario]);
        expect(await titles('origin=Cus')).toEqual([]);
      });

      it('when variety, price range and inStock are given, then all apply', async () => {
        expect(await titles('variety=criollo')).toEqual([ids.piuraCriollo]);
        expect(await titles('minPrice=900&maxPrice=2000&sort=price_asc')).toEqual([ids.cuscoTrinitario, ids.piuraCriollo]);
        // Cusco has 5 kg left but a 10 kg minimum order: it cannot be ordered, so it is not "in stock".
        expect(await titles('inStock=true&sort=price_asc')).toEqual([ids.ashanti, ids.piuraCriollo]);
        expect(await titles(`supplierId=${ghana.supplier.id}`)).toEqual([ids.ashanti]);
      });

      it('when a filter is invalid, then 400 names it', async () => {
        const res = await anon.get('/api/listings?variety=robusta&minPrice=-1&inStock=yes&sort=cheapest&page=0&pageSize=101');
        expect(res.status).toBe(400);
        expect(Object.keys(res.body.error.fields).sort()).toEqual(['inStock', 'minPrice', 'page', 'pageSize', 'sort', 'variety']);
        const range = await anon.get('/api/listings?minPrice=500&maxPrice=100');
        expect(range.body.error.fields).toEqual({ maxPrice: 'must not be below minPrice' });
      });
    });

    describe('GET /api/listings — sorting and pages', () => {
      it('when sorted, then each order holds', async () => {
        expect(await titles('sort=price_desc')).toEqual([ids.piuraCriollo, ids.cuscoTrinitario, ids.ashanti]);
        expect(await titles('sort=harvest_newest')).toEqual([ids.piuraCriollo, ids.cuscoTrinitario, ids.ashanti]);
        expect(await titles('sort=title')).toEqual([ids.ashanti, ids.cuscoTrinitario, ids.piuraCriollo]);
      });

      it('when paged, then pages do not overlap and the envelope counts the whole result', async () => {
        const first = await anon.get('/api/listings?pageSize=2&sort=title');
        expect(first.body).toMatchObject({ page: 1, pageSize: 2, total: 3, totalPages: 2 });
        const second = await anon.get('/api/listings?pageSize=2&page=2&sort=title');
        expect(second.body.items.map((l: { id: number }) => l.id)).toEqual([ids.piuraCriollo]);
        const beyond = await anon.get('/api/listings?pageSize=2&page=9');
        expect(beyond.body).toMatchObject({ items: [], total: 3, page: 9 });
      });
    });

    describe('GET /api/listings — archived', () => {
      it('when the owner asks for all of their listings, then archived ones are included', async () => {
        expect(await titles(`supplierId=${ghana.supplier.id}&status=all&sort=title`, ghana.client)).toEqual([ids.ashanti, ids.archived]);
        expect(await titles(`supplierId=${ghana.supplier.id}&status=archived`, ghana.client)).toEqual([ids.archived]);
      });

      it('when anyone else asks for archived listings, then 401 or 403', async () => {
        expect((await anon.get(`/api/listings?supplierId=${ghana.supplier.id}&status=all`)).status).toBe(401);
        expect((await peru.client.get(`/api/listings?supplierId=${ghana.supplier.id}&status=all`)).status).toBe(403);
        expect((await (await buyer(app)).client.get('/api/listings?status=archived')).status).toBe(403);
      });
    });
  },
  { needs: ['own-data'] },
);
