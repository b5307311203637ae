// Copied from monolith/src/suppliers/supplier-routes.ts; the monolith's copy retires with the listings group's cutover. Differences: creating a profile honours the dry-run header.
import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../app-context.ts';
import { ApiError, isDryRun, idParam, limitOffset, PageQuery, parse, requireRole, requireSession, toPage } from '@strangler/service-kit';
import { findSupplier, findSupplierByOwner, insertSupplier, listSuppliers } from './suppliers.ts';

const ListQuery = z.object({
  q: z.string().trim().max(100, 'must be at most 100 characters').optional(),
  country: z.string().trim().max(56, 'must be at most 56 characters').optional(),
  ...PageQuery,
});

const text = (max: number) => z.string({ error: 'is required' }).trim().min(1, 'is required').max(max, `must be at most ${max} characters`);

const CreateBody = z.strictObject({
  name: text(120),
  country: text(56),
  region: text(80),
  certifications: z.array(text(40), { error: 'must be a list of names' }).max(10, 'at most 10').default([]),
});

/** /api/suppliers: list, get, the caller's own, and create one's supplier profile. */
export function supplierRoutes(ctx: AppContext): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const q = parse(ListQuery, req.query);
    const [limit, offset] = limitOffset(q.page, q.pageSize);
    const { items, total } = await listSuppliers(ctx.db, { q: q.q, country: q.country, limit, offset });
    res.json(toPage(items, total, q.page, q.pageSize));
  });

  router.get('/mine', async (req, res) => {
    const session = requireSession(req);
    const supplier = await findSupplierByOwner(ctx.db, session.sub);
    if (!supplier) throw new ApiError('supplier_not_found', { message: 'This account has no supplier profile yet.' });
    res.json({ supplier });
  });

  router.get('/:id', async (req, res) => {
    const id = idParam(req.params.id);
    const supplier = id === undefined ? undefined : await findSupplier(ctx.db, id);
    if (!supplier) throw new ApiError('supplier_not_found');
    res.json({ supplier });
  });

  router.post('/', async (req, res) => {
    const session = requireRole(req, 'supplier');
    const body = parse(CreateBody, req.body);
    const supplier = await ctx.db.withTransaction((tx) => insertSupplier(tx, { ownerUserId: session.sub, ...body }), {
      rollback: isDryRun(req),
    });
    if (!supplier) throw new ApiError('supplier_exists');
    res.status(201).json({ supplier });
  });

  return router;
}
