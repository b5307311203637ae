// Copied from monolith/src/orders/orders.ts; the monolith's copy retires with the orders group's cutover. Differences: the buyer column is buyer_id (the monolith's is buyer_user_id); Currency is declared here, as the service has no listings module; a page and its total come back in one round trip (pagedQueryOneTrip).
import { isoTimestamp, pagedQueryOneTrip, type Queryable } from '@strangler/service-kit';

export type Currency = 'USD' | 'EUR';

export const ORDER_STATUSES = ['placed', 'confirmed', 'shipped', 'cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
/** Statuses from which an order can still be cancelled (its cacao has not left the warehouse). */
export const CANCELLABLE: readonly OrderStatus[] = ['placed', 'confirmed'];

export interface OrderItem {
  listingId: number;
  /** The listing's title when the order was placed. */
  title: string;
  quantityKg: number;
  unitPriceCents: number;
  lineTotalCents: number;
}

/** An order as the API shows it. */
export interface Order {
  id: number;
  buyerId: number;
  status: OrderStatus;
  currency: Currency;
  totalCents: number;
  items: OrderItem[];
  createdAt: string;
  updatedAt: string;
}

const COLUMNS = `o.id::int AS id, o.buyer_id::int AS "buyerId", o.status, o.currency, o.total_cents AS "totalCents",
  COALESCE((SELECT json_agg(json_build_object(
      'listingId', i.listing_id::int, 'title', i.listing_title, 'quantityKg', i.quantity_kg,
      'unitPriceCents', i.unit_price_cents, 'lineTotalCents', i.quantity_kg * i.unit_price_cents) ORDER BY i.id)
    FROM order_items i WHERE i.order_id = o.id), '[]') AS items,
  ${isoTimestamp('o.created_at')} AS "createdAt", ${isoTimestamp('o.updated_at')} AS "updatedAt"`;

export async function findOrder(db: Queryable, id: number): Promise<Order | undefined> {
  const { rows } = await db.query<Order>(`SELECT ${COLUMNS} FROM orders o WHERE o.id = $1`, [id]);
  return rows[0];
}

export function listOrdersOfBuyer(
  db: Queryable,
  f: { buyerId: number; status?: OrderStatus | undefined; limit: number; offset: number },
): Promise<{ items: Order[]; total: number }> {
  const values: unknown[] = [f.buyerId];
  const where = ['o.buyer_id = $1'];
  if (f.status) where.push(`o.status = $${values.push(f.status)}`);
  return pagedQueryOneTrip<Order>(db, {
    select: COLUMNS,
    from: 'orders o',
    where,
    values,
    orderBy: 'o.created_at DESC, o.id DESC',
    limit: f.limit,
    offset: f.offset,
  });
}

/** An order line as reserved: the listing's title and price when the stock was taken. */
export interface OrderLine {
  listingId: number;
  title: string;
  quantityKg: number;
  unitPriceCents: number;
}

export async function insertOrder(
  tx: Queryable,
  o: { buyerId: number; currency: Currency; reservationKey: string; lines: OrderLine[] },
): Promise<number> {
  const total = o.lines.reduce((sum, l) => sum + l.quantityKg * l.unitPriceCents, 0);
  const { rows } = await tx.query<{ id: number }>(
    'INSERT INTO orders (buyer_id, currency, total_cents, reservation_key) VALUES ($1, $2, $3, $4) RETURNING id::int AS id',
    [o.buyerId, o.currency, total, o.reservationKey],
  );
  const orderId = rows[0]!.id;
  await tx.query(
    `INSERT INTO order_items (order_id, listing_id, listing_title, quantity_kg, unit_price_cents)
     SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::int[], $5::int[])`,
    [
      orderId,
      o.lines.map((l) => l.listingId),
      o.lines.map((l) => l.title),
      o.lines.map((l) => l.quantityKg),
      o.lines.map((l) => l.unitPriceCents),
    ],
  );
  return orderId;
}

/** Locks an order; its buyer, status and reservation, for the cancel. */
export async function lockOrder(
  tx: Queryable,
  id: number,
): Promise<{ buyerId: number; status: OrderStatus; reservationKey: string | null } | undefined> {
  const { rows } = await tx.query<{ buyerId: number; status: OrderStatus; reservationKey: string | null }>(
    'SELECT buyer_id::int AS "buyerId", status, reservation_key AS "reservationKey" FROM orders WHERE id = $1 FOR UPDATE',
    [id],
  );
  return rows[0];
}

export async function setOrderStatus(tx: Queryable, id: number, status: OrderStatus): Promise<void> {
  await tx.query('UPDATE orders SET status = $2, updated_at = now() WHERE id = $1', [id, status]);
}
