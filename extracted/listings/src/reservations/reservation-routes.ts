// Copied from monolith/src/reservations/reservation-routes.ts; the monolith's copy retires with the listings group's cutover. Differences: none.
import { Router } from 'express';
import { z } from 'zod';
import {
  ApiError,
  isDryRun,
  OrderItems,
  parse,
  requireRole,
  requireSession,
  type FieldErrors,
  type OrderItem,
  type Queryable,
  type Session,
} from '@strangler/service-kit';
import type { AppContext } from '../app-context.ts';
import { adjustStock, lockListingsForStock } from '../listings/listings.ts';
import {
  findReservation,
  lockReservation,
  markReleased,
  saveReservation,
  view,
  type ReservationItem,
  type StoredReservation,
} from './reservations.ts';

const ReserveBody = z.strictObject({
  key: z.string({ error: 'is required' }).regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 visible ASCII characters'),
  // An order's items, by the same rules and messages: an order's validation errors come from here.
  items: OrderItems,
});

function mayManage(session: Session, r: StoredReservation): boolean {
  return session.role === 'admin' || r.ownerUserId === session.sub;
}

const notFound = (): ApiError => new ApiError('not_found', { message: 'No such reservation.' });

/** Whether a reservation holds exactly these listings and quantities. */
const sameItems = (r: StoredReservation, items: OrderItem[]): boolean =>
  r.items.length === items.length && items.every((w) => r.items.some((i) => i.listingId === w.listingId && i.quantityKg === w.quantityKg));

/**
 * Checks every item against its locked listing, in the order an order's errors are reported (minimum
 * quantities first, then existence, archive and stock item by item, then currency), and takes the stock.
 */
async function takeStock(tx: Queryable, items: OrderItem[]): Promise<ReservationItem[]> {
  const listings = await lockListingsForStock(
    tx,
    items.map((i) => i.listingId),
  );
  const fields: FieldErrors = {};
  items.forEach((item, i) => {
    const listing = listings.get(item.listingId);
    if (listing && listing.status === 'active' && item.quantityKg < listing.minOrderKg) {
      fields[`items.${i}.quantityKg`] = `must be at least the minimum order of ${listing.minOrderKg} kg`;
    }
  });
  if (Object.keys(fields).length) throw new ApiError('validation_failed', { fields });
  const lines = items.map((item) => {
    const listing = listings.get(item.listingId);
    if (!listing) throw new ApiError('listing_not_found', { message: `Listing ${item.listingId} does not exist.` });
    if (listing.status !== 'active')
      throw new ApiError('listing_archived', { message: `Listing ${item.listingId} is archived and can no longer be ordered.` });
    if (listing.stockKg < item.quantityKg) {
      throw new ApiError('insufficient_stock', {
        message: `Only ${listing.stockKg} kg of listing ${listing.id} left; lower the quantity.`,
      });
    }
    return {
      listingId: listing.id,
      title: listing.title,
      quantityKg: item.quantityKg,
      unitPriceCents: listing.pricePerKgCents,
      currency: listing.currency,
    };
  });
  if (new Set(lines.map((l) => l.currency)).size > 1) {
    throw new ApiError('validation_failed', { fields: { items: 'must all be priced in the same currency; place one order per currency' } });
  }
  for (const line of lines) await adjustStock(tx, line.listingId, -line.quantityKg);
  return lines;
}

/**
 * /api/reservations: the stock of an order being placed (by the orders service, or the monolith's
 * orders module), held under a key until released. Idempotent by key: reserving the same key with
 * the same items answers the reservation (taking the stock again if it had been released: an order
 * retried after a failure); with other items, 422. Releasing gives the stock back once.
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
          if (!mayManage(session, existing) || !sameItems(existing, body.items)) throw new ApiError('idempotency_key_reused');
          if (existing.status === 'reserved') return { status: 200, reservation: existing };
        }
        const items = await takeStock(tx, body.items);
        return {
          status: existing ? 200 : 201,
          reservation: await saveReservation(tx, { key: body.key, ownerUserId: existing?.ownerUserId ?? session.sub, items }),
        };
      },
      { rollback: isDryRun(req) },
    );
    res.status(result.status).json({ reservation: view(result.reservation) });
  });

  router.get('/:key', async (req, res) => {
    const session = requireSession(req);
    const reservation = await findReservation(ctx.db, req.params.key);
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
        // The listing rows in id order, as reserving locks them, so the two never deadlock.
        await lockListingsForStock(
          tx,
          r.items.map((i) => i.listingId),
        );
        for (const item of r.items) await adjustStock(tx, item.listingId, item.quantityKg);
        return markReleased(tx, r.key);
      },
      { rollback: isDryRun(req) },
    );
    res.json({ reservation: view(reservation) });
  });

  return router;
}
