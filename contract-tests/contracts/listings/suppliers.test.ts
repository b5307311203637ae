import { beforeAll, describe, expect, it } from 'vitest';
import { buyer, supplier, type HttpClient } from '@strangler/stack/testing';
import { describeTargets, type ContractTarget } from '../../src/contract-targets.ts';

// One contract for whoever serves these routes: the monolith, or the listings service behind the proxy.
describeTargets('suppliers', (target) => {
  let app: ContractTarget;
  let anon: HttpClient;
  beforeAll(() => {
    app = target();
    anon = app.client();
  });

  describe('POST /api/suppliers', () => {
    it('when a supplier account creates its profile, then 201; a second one is 409', async () => {
      const s = await buyer(app, 'supplier');
      const res = await s.client.post('/api/suppliers', {
        name: 'Finca Aurora',
        country: 'Ecuador',
        region: 'Manabí',
        certifications: ['Organic', 'Fairtrade'],
      });
      expect(res.status).toBe(201);
      expect(res.body.supplier).toMatchObject({
        name: 'Finca Aurora',
        country: 'Ecuador',
        region: 'Manabí',
        certifications: ['Organic', 'Fairtrade'],
        rating: null,
      });
      expect((await s.client.get('/api/suppliers/mine')).body.supplier).toEqual(res.body.supplier);
      const again = await s.client.post('/api/suppliers', { name: 'Finca Aurora II', country: 'Ecuador', region: 'Manabí' });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('supplier_exists');
    });

    it('when a buyer tries, then 403; when fields are missing, then 400', async () => {
      expect((await (await buyer(app)).client.post('/api/suppliers', { name: 'X', country: 'Peru', region: 'Piura' })).status).toBe(403);
      const s = await buyer(app, 'supplier');
      const res = await s.client.post('/api/suppliers', { certifications: 'Organic' });
      expect(res.status).toBe(400);
      expect(Object.keys(res.body.error.fields).sort()).toEqual(['certifications', 'country', 'name', 'region']);
    });
  });

  describe('GET /api/suppliers', () => {
    it('when filtered by q and country, then only matching suppliers, by name', async () => {
      const a = await supplier(app);
      const res = await anon.get(`/api/suppliers?q=${encodeURIComponent(a.supplier.name.slice(6))}&country=PERU`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ total: 1, page: 1, pageSize: 20, totalPages: 1 });
      expect(res.body.items[0].id).toBe(a.supplier.id);
      expect((await anon.get(`/api/suppliers?q=${encodeURIComponent(a.supplier.name.slice(6))}&country=Ghana`)).body.total).toBe(0);
    });

    it('when one supplier is asked for, then it or 404', async () => {
      const a = await supplier(app);
      expect((await anon.get(`/api/suppliers/${a.supplier.id}`)).body.supplier.name).toBe(a.supplier.name);
      const missing = await anon.get('/api/suppliers/99999999');
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('supplier_not_found');
    });

    it('when /mine is asked without a profile or a session, then 404 or 401', async () => {
      expect((await (await buyer(app)).client.get('/api/suppliers/mine')).status).toBe(404);
      expect((await anon.get('/api/suppliers/mine')).status).toBe(401);
    });
  });
});
