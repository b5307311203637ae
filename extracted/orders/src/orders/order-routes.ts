// Copied from monolith/src/orders/order-routes.ts; the monolith's copy retires with the orders group's cutover. Differences: one pool, ctx.db (the monolith gives its orders module a pool of its own, ctx.ordersDb).
import { createHash, randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../app-context.ts';
import {
  ApiError,
  callerOf,
  idempotencyKeyOf,
  idParam,
  limitOffset,
  onceForKey,
  OrderItems,
  PageQuery,
  parse,
  requireRole,
  requireSession,
  toPage,
  type Caller,
  type OrderItem,
  type Queryable,
  type Session,
  type StoredResponse,
} from '@strangler/service-kit';
import { CANCELLABLE, findOrder, insertOrder, listOrdersOfBuyer, lockOrder, ORDER_STATUSES, setOrderStatus, type Order } from './orders.ts';

const CreateOrderBody = z.strictObject({ items: OrderItems });

const ListQuery = z.object({
  status: z.enum(ORDER_STATUSES, { error: `must be one of ${ORDER_STATUSES.join(', ')}` }).optional(),
  ...PageQuery,
});

/** The reservation key of a keyed order: the same for every retry of it, so the stock is held once. */
const reservationKeyFor = (buyerId: number, idempotencyKey: string): string =>
  `order:${buyerId}:${createHash('sha256').update(idempotencyKey).digest('base64url')}`;

/**
 * /api/orders: place (stock reserved through the listings API, idempotent by key), list mine, get,
 * cancel (the reservation released).
 */
export function orderRoutes(ctx: AppContext): Router {
  const router = Router();

  /**
   * Reserves the stock, then writes the order in `tx`; if writing fails, the reservation is released
   * (compensation), so a failed order never holds stock.
   */
  const place = async (
    tx: Queryable,
    caller: Caller,
    buyerId: number,
    reservationKey: string,
    items: OrderItem[],
  ): Promise<StoredResponse> => {
    const { currency, lines } = await ctx.stock.reserve(caller, reservationKey, items);
    try {
      const orderId = await insertOrder(tx, { buyerId, currency, reservationKey, lines });
      return { status: 201, body: { order: (await findOrder(tx, orderId))! } };
    } catch (err) {
      await ctx.stock
        .release(caller, reservationKey)
        .catch((e: unknown) => ctx.log.error({ err: e, reservationKey }, 'releasing the stock of a failed order failed'));
      throw err;
    }
  };

  router.post('/', async (req, res) => {
    const session = requireRole(req, 'buyer');
    const key = idempotencyKeyOf(req);
    const body = parse(CreateOrderBody, req.body);
    const caller = callerOf(req);
    // With a key, the whole placement runs under the key's lock, so a retry waits for the first
    // attempt and replays it.
    const result = await ctx.db.withTransaction(
      (tx) =>
        key
          ? onceForKey(tx, session.sub, key, req.body, () =>
              place(tx, caller, session.sub, reservationKeyFor(session.sub, key), body.items),
            )
          : place(tx, caller, session.sub, `order:${randomUUID()}`, body.items).then((r) => ({ ...r, replayed: false })),
      { rollback: caller.dryRun },
    );
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
    const caller = callerOf(req);
    const order = await ctx.db.withTransaction(
      async (tx) => {
        const row = id === undefined ? undefined : await lockOrder(tx, id);
        if (!row || !mayAccess(session, row.buyerId)) throw new ApiError('order_not_found');
        if (!CANCELLABLE.includes(row.status)) {
          throw new ApiError('order_not_cancellable', {
            message: `This order is ${row.status}; only placed or confirmed orders can be cancelled.`,
          });
        }
        // Released while the order row is locked: if the release fails, the order stays as it was and
        // the cancel can be retried (a release is idempotent, so a retry after a lost commit is harmless).
        if (row.reservationKey) await ctx.stock.release(caller, row.reservationKey);
        await setOrderStatus(tx, id!, 'cancelled');
        return (await findOrder(tx, id!))!;
      },
      { rollback: caller.dryRun },
    );
    res.json({ order });
  });

  return router;
}

function mayAccess(session: Session, buyerId: number): boolean {
  return session.role === 'admin' || session.sub === buyerId;
}
