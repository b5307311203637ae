import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../app-context.ts';
import { ApiError, idempotencyKeyOf, idParam, limitOffset, onceForKey, PageQuery, parse, requireRole, requireSession, toPage, type FieldErrors, type Queryable, type Session } from '@strangler/service-kit';
import {
  adjustStock,
  CANCELLABLE,
  findOrder,
  insertOrder,
  listOrdersOfBuyer,
  lockListingsForOrder,
  lockOrder,
  ORDER_STATUSES,
  orderQuantities,
  setOrderStatus,
  type Order,
} from './orders.ts';

const CreateOrderBody = z.strictObject({
  items: z
    .array(
      z.strictObject({
        listingId: z.number({ error: 'must be a listing id' }).int('must be a listing id').positive('must be a listing id'),
        quantityKg: z.number({ error: 'must be a whole number of kg' }).int('must be a whole number of kg').min(1, 'must be at least 1').max(1_000_000, 'must be at most 1000000'),
      }),
      { error: 'must be a list of {listingId, quantityKg}' },
    )
    .min(1, 'must have at least one item')
    .max(20, 'must have at most 20 items')
    .refine((items) => new Set(items.map((i) => i.listingId)).size === items.length, 'must not list the same listing twice'),
});

const ListQuery = z.object({
  status: z.enum(ORDER_STATUSES, { error: `must be one of ${ORDER_STATUSES.join(', ')}` }).optional(),
  ...PageQuery,
});

/** /api/orders: place (stock checked and taken atomically, idempotent by key), list mine, get, cancel. */
export function orderRoutes(ctx: AppContext): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const session = requireRole(req, 'buyer');
    const key = idempotencyKeyOf(req);
    const body = parse(CreateOrderBody, req.body);
    const result = await ctx.db.withTransaction(async (tx) => {
      const place = async () => ({ status: 201, body: { order: await placeOrder(tx, session.sub, body.items) } });
      return key ? onceForKey(tx, session.sub, key, req.body, place) : { ...(await place()), replayed: false };
    });
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    const order = (result.body as { order: Order }).order;
    res.status(result.status).location(`/api/orders/${order.id}`).json(result.body);
  });

  router.get('/', async (req, res) => {
    const session = requireSession(req);
    const q = parse(ListQuery, req.query);
    const [limit, offset] = limitOffset(q.page, q.pageSize);
    const { items, total } = await listOrdersOfBuyer(ctx.db, { buyerId: session.sub, status: q.status, limit, offset });
    res.json(toPage(items, total, q.page, q.pageSize));
  });

  router.get('/:id', async (req, res) => {
    const session = requireSession(req);
    const id = idParam(req.params.id);
    const order = id === undefined ? undefined : await findOrder(ctx.db, id);
    // Someone else's order is answered as missing: order ids must not reveal who bought what.
    if (!order || !mayAccess(session, order.buyerId)) throw new ApiError('order_not_found');
    res.json({ order });
  });

  router.post('/:id/cancel', async (req, res) => {
    const session = requireSession(req);
    const id = idParam(req.params.id);
    const order = await ctx.db.withTransaction(async (tx) => {
      const row = id === undefined ? undefined : await lockOrder(tx, id);
      if (!row || !mayAccess(session, row.buyerId)) throw new ApiError('order_not_found');
      if (!CANCELLABLE.includes(row.status)) {
        throw new ApiError('order_not_cancellable', { message: `This order is ${row.status}; only placed or confirmed orders can be cancelled.` });
      }
      for (const item of await orderQuantities(tx, id!)) await adjustStock(tx, item.listingId, item.quantityKg);
      await setOrderStatus(tx, id!, 'cancelled');
      return (await findOrder(tx, id!))!;
    });
    res.json({ order });
  });

  return router;
}

function mayAccess(session: Session, buyerId: number): boolean {
  return session.role === 'admin' || session.sub === buyerId;
}

/** Checks every item against its locked listing, takes the stock and writes the order. */
async function placeOrder(tx: Queryable, buyerId: number, items: { listingId: number; quantityKg: number }[]): Promise<Order> {
  const listings = await lockListingsForOrder(tx, items.map((i) => i.listingId));
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
    if (listing.status !== 'active') throw new ApiError('listing_archived', { message: `Listing ${item.listingId} is archived and can no longer be ordered.` });
    if (listing.stockKg < item.quantityKg) {
      throw new ApiError('insufficient_stock', { message: `Only ${listing.stockKg} kg of listing ${listing.id} left; lower the quantity.` });
    }
    return { listing, quantityKg: item.quantityKg };
  });
  const currencies = new Set(lines.map((l) => l.listing.currency));
  if (currencies.size > 1) throw new ApiError('validation_failed', { fields: { items: 'must all be priced in the same currency; place one order per currency' } });

  for (const line of lines) await adjustStock(tx, line.listing.id, -line.quantityKg);
  const orderId = await insertOrder(tx, { buyerId, currency: lines[0]!.listing.currency, items: lines });
  return (await findOrder(tx, orderId))!;
}
