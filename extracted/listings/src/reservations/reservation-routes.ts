import { Router } from 'express';
import { z } from 'zod';
import { ApiError, isDryRun, parse, requireRole, requireSession, type Session } from '@strangler/service-kit';
import type { AppContext } from '../app-context.ts';
import { adjustStock, lockListingForStock } from '../listings/listings.ts';
import { insertReservation, lockReservation, markReleased, view, type StoredReservation } from './reservations.ts';

const KEY = z.string({ error: 'is required' }).regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 visible ASCII characters');

const ReserveBody = z.strictObject({
  key: KEY,
  listingId: z.number({ error: 'must be a listing id' }).int('must be a listing id').positive('must be a listing id'),
  quantityKg: z.number({ error: 'must be a whole number of kg' }).int('must be a whole number of kg').min(1, 'must be at least 1').max(1_000_000, 'must be at most 1000000'),
});

function mayManage(session: Session, r: StoredReservation): boolean {
  return session.role === 'admin' || r.ownerUserId === session.sub;
}

const notFound = (): ApiError => new ApiError('not_found', { message: 'No such reservation.' });

/**
 * /api/reservations: stock held for an order being placed by the orders service, idempotent by key.
 * Reserving the same key again answers the first reservation; with another listing or quantity, 422.
 * Releasing gives the stock back once, however often it is asked.
 */
export function reservationRoutes(ctx: AppContext): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const session = requireRole(req, 'buyer', 'admin');
    const body = parse(ReserveBody, req.body);
    const result = await ctx.db.withTransaction(
      async (tx) => {
        const existing = await lockReservation(tx, body.key);
        if (existing) {
          if (!mayManage(session, existing)) throw new ApiError('idempotency_key_reused');
          if (existing.listingId !== body.listingId || existing.quantityKg !== body.quantityKg) throw new ApiError('idempotency_key_reused');
          return { status: 200, reservation: existing };
        }
        const listing = await lockListingForStock(tx, body.listingId);
        if (!listing) throw new ApiError('listing_not_found');
        if (listing.status !== 'active') throw new ApiError('listing_archived');
        if (body.quantityKg < listing.minOrderKg) throw new ApiError('validation_failed', { fields: { quantityKg: `must be at least the minimum order of ${listing.minOrderKg} kg` } });
        if (listing.stockKg < body.quantityKg) throw new ApiError('insufficient_stock', { message: `Only ${listing.stockKg} kg of listing ${listing.id} left; lower the quantity.` });
        await adjustStock(tx, listing.id, -body.quantityKg);
        return { status: 201, reservation: await insertReservation(tx, { ...body, ownerUserId: session.sub }) };
      },
      { rollback: isDryRun(req) },
    );
    res.status(result.status).json({ reservation: view(result.reservation) });
  });

  router.get('/:key', async (req, res) => {
    const session = requireSession(req);
    const reservation = await ctx.db.withTransaction((tx) => lockReservation(tx, req.params.key));
    if (!reservation || !mayManage(session, reservation)) throw notFound();
    res.json({ reservation: view(reservation) });
  });

  router.post('/:key/release', async (req, res) => {
    const session = requireSession(req);
    const reservation = await ctx.db.withTransaction(
      async (tx) => {
        const r = await lockReservation(tx, req.params.key);
        if (!r || !mayManage(session, r)) throw notFound();
        if (r.status === 'released') return r;
        await adjustStock(tx, r.listingId, r.quantityKg);
        return markReleased(tx, r.key);
      },
      { rollback: isDryRun(req) },
    );
    res.json({ reservation: view(reservation) });
  });

  return router;
}
