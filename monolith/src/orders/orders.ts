import { isoTimestamp, pagedQuery, type Queryable } from '@strangler/service-kit';
import type { Currency } from '../listings/listings.ts';

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

const COLUMNS = `o.id::int AS id, o.buyer_user_id::int AS "buyerId", o.status, o.currency, o.total_cents AS "totalCents",
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
  const where = ['o.buyer_user_id = $1'];
  if (f.status) where.push(`o.status = $${values.push(f.status)}`);
  return pagedQuery<Order>(db, { select: COLUMNS, from: 'orders o', where, values, orderBy: 'o.created_at DESC, o.id DESC', limit: f.limit, offset: f.offset });
}

/** A listing row locked for an order, with what the stock checks need. */
export interface LockedListing {
  id: number;
  title: string;
  status: 'active' | 'archived';
  pricePerKgCents: number;
  currency: Currency;
  stockKg: number;
  minOrderKg: number;
}

/** Locks the listings in id order (so two orders never deadlock) for the rest of the transaction. */
export async function lockListingsForOrder(tx: Queryable, ids: number[]): Promise<Map<number, LockedListing>> {
  const { rows } = await tx.query<LockedListing>(
    `SELECT id::int AS id, title, status, price_per_kg_cents AS "pricePerKgCents", currency, stock_kg AS "stockKg",
       min_order_kg AS "minOrderKg"
     FROM listings WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

export async function adjustStock(tx: Queryable, listingId: number, deltaKg: number): Promise<void> {
  await tx.query('UPDATE listings SET stock_kg = stock_kg + $2, updated_at = now() WHERE id = $1', [listingId, deltaKg]);
}

export async function insertOrder(
  tx: Queryable,
  o: { buyerId: number; currency: Currency; items: { listing: LockedListing; quantityKg: number }[] },
): Promise<number> {
  const total = o.items.reduce((sum, i) => sum + i.quantityKg * i.listing.pricePerKgCents, 0);
  const { rows } = await tx.query<{ id: number }>(
    'INSERT INTO orders (buyer_user_id, currency, total_cents) VALUES ($1, $2, $3) RETURNING id::int AS id',
    [o.buyerId, o.currency, total],
  );
  const orderId = rows[0]!.id;
  await tx.query(
    `INSERT INTO order_items (order_id, listing_id, listing_title, quantity_kg, unit_price_cents)
     SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::int[], $5::int[])`,
    [orderId, o.items.map((i) => i.listing.id), o.items.map((i) => i.listing.title), o.items.map((i) => i.quantityKg), o.items.map((i) => i.listing.pricePerKgCents)],
  );
  return orderId;
}

/** Locks an order; its buyer and status, for the cancel checks. */
export async function lockOrder(tx: Queryable, id: number): Promise<{ buyerId: number; status: OrderStatus } | undefined> {
  const { rows } = await tx.query<{ buyerId: number; status: OrderStatus }>(
    'SELECT buyer_user_id::int AS "buyerId", status FROM orders WHERE id = $1 FOR UPDATE',
    [id],
  );
  return rows[0];
}

export async function orderQuantities(tx: Queryable, orderId: number): Promise<{ listingId: number; quantityKg: number }[]> {
  const { rows } = await tx.query<{ listingId: number; quantityKg: number }>(
    'SELECT listing_id::int AS "listingId", quantity_kg AS "quantityKg" FROM order_items WHERE order_id = $1 ORDER BY listing_id',
    [orderId],
  );
  return rows;
}

export async function setOrderStatus(tx: Queryable, id: number, status: OrderStatus): Promise<void> {
  await tx.query('UPDATE orders SET status = $2, updated_at = now() WHERE id = $1', [id, status]);
}
