// Copied from monolith/src/listings/listing-routes.ts; the monolith's copy retires with the listings group's cutover. Differences: every write honours the dry-run header (a create checks its supplier and inserts in one transaction for it).
import { Router, type Request } from 'express';
import type { AppContext } from '../app-context.ts';
import { ApiError, isDryRun, idParam, limitOffset, parse, requireRole, toPage, type Queryable } from '@strangler/service-kit';
import { findSupplier, findSupplierByOwner, supplierOwner } from '../suppliers/suppliers.ts';
import { CreateListingBody, ListListingsQuery, UpdateListingBody } from './listing-schemas.ts';
import { archiveListing, findListing, insertListing, listListings, lockListing, updateListing, type Listing } from './listings.ts';

/** Whether the caller owns supplier `supplierId` or is an admin. */
async function mayManage(db: Queryable, req: Request, supplierId: number): Promise<boolean> {
  if (!req.session) return false;
  if (req.session.role === 'admin') return true;
  return (await supplierOwner(db, supplierId)) === req.session.sub;
}

/** /api/listings: search, get, and create, update and archive by the owning supplier or an admin. */
export function listingRoutes(ctx: AppContext): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const q = parse(ListListingsQuery, req.query);
    // Archived listings are their supplier's business: only the owner (or an admin) may list them.
    if (q.status !== 'active') {
      if (!req.session) throw new ApiError('unauthenticated');
      const allowed = req.session.role === 'admin' || (q.supplierId !== undefined && (await mayManage(ctx.db, req, q.supplierId)));
      if (!allowed)
        throw new ApiError('forbidden', { message: 'Only a supplier can list their own archived listings: pass your supplierId.' });
    }
    const [limit, offset] = limitOffset(q.page, q.pageSize);
    const { items, total } = await listListings(ctx.db, {
      q: q.q,
      origin: q.origin,
      variety: q.variety,
      minPriceCents: q.minPrice,
      maxPriceCents: q.maxPrice,
      inStock: q.inStock,
      supplierId: q.supplierId,
      status: q.status,
      sort: q.sort,
      limit,
      offset,
    });
    res.json(toPage(items, total, q.page, q.pageSize));
  });

  router.get('/:id', async (req, res) => {
    const listing = await visibleListing(ctx.db, req);
    res.json({ listing });
  });

  router.post('/', async (req, res) => {
    const session = requireRole(req, 'supplier', 'admin');
    const { supplierId, ...fields } = parse(CreateListingBody, req.body);
    const listing = await ctx.db.withTransaction(
      async (tx) => {
        let ownerSupplierId: number;
        if (session.role === 'admin') {
          if (supplierId === undefined)
            throw new ApiError('validation_failed', { fields: { supplierId: 'is required when an admin creates a listing' } });
          if (!(await findSupplier(tx, supplierId)))
            throw new ApiError('validation_failed', { fields: { supplierId: 'is not an existing supplier' } });
          ownerSupplierId = supplierId;
        } else {
          const own = await findSupplierByOwner(tx, session.sub);
          if (!own) throw new ApiError('forbidden', { message: 'Create your supplier profile before listing cacao.' });
          if (supplierId !== undefined && supplierId !== own.id)
            throw new ApiError('forbidden', { message: 'You can only list under your own supplier profile.' });
          ownerSupplierId = own.id;
        }
        return insertListing(tx, ownerSupplierId, fields);
      },
      { rollback: isDryRun(req) },
    );
    res.status(201).location(`/api/listings/${listing.id}`).json({ listing });
  });

  router.patch('/:id', async (req, res) => {
    requireRole(req, 'supplier', 'admin');
    const id = idParam(req.params.id);
    const fields = parse(UpdateListingBody, req.body);
    const listing = await ctx.db.withTransaction(
      async (tx) => {
        await lockManageable(tx, req, id);
        return updateListing(tx, id!, fields);
      },
      { rollback: isDryRun(req) },
    );
    res.json({ listing });
  });

  router.post('/:id/archive', async (req, res) => {
    requireRole(req, 'supplier', 'admin');
    const id = idParam(req.params.id);
    const listing = await ctx.db.withTransaction(
      async (tx) => {
        await lockManageable(tx, req, id);
        return archiveListing(tx, id!);
      },
      { rollback: isDryRun(req) },
    );
    res.json({ listing });
  });

  return router;
}

/** The listing at `:id` as the caller may see it: archived ones only for their owner or an admin. */
async function visibleListing(db: Queryable, req: Request): Promise<Listing> {
  const id = idParam(req.params.id as string | undefined);
  const listing = id === undefined ? undefined : await findListing(db, id);
  if (!listing) throw new ApiError('listing_not_found');
  if (listing.status !== 'active' && !(await mayManage(db, req, listing.supplierId))) throw new ApiError('listing_not_found');
  return listing;
}

/** Locks listing `id` for a change by the caller: 404 when missing, 403 when not theirs, 409 when archived. */
async function lockManageable(tx: Queryable, req: Request, id: number | undefined): Promise<void> {
  const row = id === undefined ? undefined : await lockListing(tx, id);
  if (!row) throw new ApiError('listing_not_found');
  if (req.session!.role !== 'admin' && row.ownerUserId !== req.session!.sub)
    throw new ApiError('forbidden', { message: 'You can only change your own listings.' });
  if (row.status === 'archived') throw new ApiError('listing_archived');
}
