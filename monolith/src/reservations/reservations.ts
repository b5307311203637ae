// Copied to extracted/listings/src/reservations/reservations.ts; this copy retires with the listings group's cutover (keep the two alike: contract-tests/contracts/copies.test.ts).
import { isoTimestamp, type Queryable } from '@strangler/service-kit';
import type { Currency } from '../listings/listings.ts';

/** One listing's share of a reservation, priced when it was reserved: an order's line. */
export interface ReservationItem {
  listingId: number;
  title: string;
  quantityKg: number;
  unitPriceCents: number;
  currency: Currency;
}

/** Stock held by a key (an order being placed) until it is released. */
export interface Reservation {
  key: string;
  status: 'reserved' | 'released';
  items: ReservationItem[];
  createdAt: string;
  releasedAt: string | null;
}

export type StoredReservation = Reservation & { ownerUserId: number };

const COLUMNS = `r.key, r.status, r.owner_user_id::int AS "ownerUserId",
  COALESCE((SELECT json_agg(json_build_object('listingId', i.listing_id::int, 'title', i.title, 'quantityKg', i.quantity_kg,
      'unitPriceCents', i.unit_price_cents, 'currency', i.currency) ORDER BY i.listing_id)
    FROM stock_reservation_items i WHERE i.reservation_key = r.key), '[]') AS items,
  ${isoTimestamp('r.created_at')} AS "createdAt", CASE WHEN r.released_at IS NULL THEN NULL ELSE ${isoTimestamp('r.released_at')} END AS "releasedAt"`;

/** The reservation with this key, locked for the rest of the transaction. */
export async function lockReservation(tx: Queryable, key: string): Promise<StoredReservation | undefined> {
  const { rows } = await tx.query<StoredReservation>(`SELECT ${COLUMNS} FROM stock_reservations r WHERE r.key = $1 FOR UPDATE`, [key]);
  return rows[0];
}

export async function findReservation(db: Queryable, key: string): Promise<StoredReservation | undefined> {
  const { rows } = await db.query<StoredReservation>(`SELECT ${COLUMNS} FROM stock_reservations r WHERE r.key = $1`, [key]);
  return rows[0];
}

/** Writes the reservation (or marks a released one reserved again) holding exactly `items`. */
export async function saveReservation(
  tx: Queryable,
  r: { key: string; ownerUserId: number; items: ReservationItem[] },
): Promise<StoredReservation> {
  await tx.query(
    `INSERT INTO stock_reservations (key, owner_user_id) VALUES ($1, $2)
     ON CONFLICT (key) DO UPDATE SET status = 'reserved', released_at = NULL`,
    [r.key, r.ownerUserId],
  );
  await tx.query('DELETE FROM stock_reservation_items WHERE reservation_key = $1', [r.key]);
  await tx.query(
    `INSERT INTO stock_reservation_items (reservation_key, listing_id, title, quantity_kg, unit_price_cents, currency)
     SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::int[], $5::int[], $6::text[])`,
    [r.key, ...(['listingId', 'title', 'quantityKg', 'unitPriceCents', 'currency'] as const).map((f) => r.items.map((i) => i[f]))],
  );
  return (await lockReservation(tx, r.key))!;
}

export async function markReleased(tx: Queryable, key: string): Promise<StoredReservation> {
  await tx.query(`UPDATE stock_reservations SET status = 'released', released_at = now() WHERE key = $1`, [key]);
  return (await lockReservation(tx, key))!;
}

/** The reservation as the API shows it (who owns it is not shown). */
export function view({ ownerUserId: _owner, ...r }: StoredReservation): Reservation {
  return r;
}
