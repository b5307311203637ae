import { isoTimestamp, type Queryable } from '@strangler/service-kit';

/** Stock held by a key (an order being placed) until it is released. */
export interface Reservation {
  key: string;
  listingId: number;
  quantityKg: number;
  status: 'reserved' | 'released';
  createdAt: string;
  releasedAt: string | null;
}

const COLUMNS = `key, listing_id::int AS "listingId", quantity_kg AS "quantityKg", status, owner_user_id::int AS "ownerUserId",
  ${isoTimestamp('created_at')} AS "createdAt", CASE WHEN released_at IS NULL THEN NULL ELSE ${isoTimestamp('released_at')} END AS "releasedAt"`;

export type StoredReservation = Reservation & { ownerUserId: number };

/** The reservation with this key, locked for the rest of the transaction. */
export async function lockReservation(tx: Queryable, key: string): Promise<StoredReservation | undefined> {
  const { rows } = await tx.query<StoredReservation>(`SELECT ${COLUMNS} FROM stock_reservations WHERE key = $1 FOR UPDATE`, [key]);
  return rows[0];
}

export async function insertReservation(tx: Queryable, r: { key: string; listingId: number; quantityKg: number; ownerUserId: number }): Promise<StoredReservation> {
  const { rows } = await tx.query<StoredReservation>(
    `INSERT INTO stock_reservations (key, listing_id, quantity_kg, owner_user_id) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
    [r.key, r.listingId, r.quantityKg, r.ownerUserId],
  );
  return rows[0]!;
}

export async function markReleased(tx: Queryable, key: string): Promise<StoredReservation> {
  const { rows } = await tx.query<StoredReservation>(`UPDATE stock_reservations SET status = 'released', released_at = now() WHERE key = $1 RETURNING ${COLUMNS}`, [key]);
  return rows[0]!;
}

/** The reservation as the API shows it (who owns it is not shown). */
export function view({ ownerUserId: _owner, ...r }: StoredReservation): Reservation {
  return r;
}
