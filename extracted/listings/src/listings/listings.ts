// Copied from monolith/src/listings/listings.ts; the monolith's copy retires with the listings group's cutover. Differences: a page and its total come back in one round trip (pagedQueryOneTrip), the page's columns built for its rows only.
import { containsPattern, isoTimestamp, pagedQueryOneTrip, type Queryable } from '@strangler/service-kit';

export const VARIETIES = ['criollo', 'trinitario', 'forastero', 'nacional'] as const;
export const CURRENCIES = ['USD', 'EUR'] as const;
export const LISTING_SORTS = ['newest', 'price_asc', 'price_desc', 'harvest_newest', 'title'] as const;

export type Variety = (typeof VARIETIES)[number];
export type Currency = (typeof CURRENCIES)[number];
export type ListingSort = (typeof LISTING_SORTS)[number];
export type ListingStatus = 'active' | 'archived';

/** The fields a supplier writes. */
export interface ListingFields {
  title: string;
  originCountry: string;
  originRegion: string;
  variety: Variety;
  grade: string;
  pricePerKgCents: number;
  currency: Currency;
  stockKg: number;
  minOrderKg: number;
  /** YYYY-MM-DD */
  harvestDate: string;
  description: string;
}

/** A listing as the API shows it, with a summary of its supplier. */
export interface Listing extends ListingFields {
  id: number;
  supplierId: number;
  supplier: { id: number; name: string; country: string; rating: number | null };
  status: ListingStatus;
  createdAt: string;
  updatedAt: string;
}

const COLUMNS = `l.id::int AS id, l.supplier_id::int AS "supplierId",
  json_build_object('id', s.id::int, 'name', s.name, 'country', s.country, 'rating', s.rating::float8) AS supplier,
  l.title, l.origin_country AS "originCountry", l.origin_region AS "originRegion", l.variety, l.grade,
  l.price_per_kg_cents AS "pricePerKgCents", l.currency, l.stock_kg AS "stockKg", l.min_order_kg AS "minOrderKg",
  to_char(l.harvest_date, 'YYYY-MM-DD') AS "harvestDate", l.description, l.status,
  ${isoTimestamp('l.created_at')} AS "createdAt", ${isoTimestamp('l.updated_at')} AS "updatedAt"`;
const FROM = 'listings l JOIN suppliers s ON s.id = l.supplier_id';

// Every order ends on the id, so pages never overlap or skip rows when the sort key ties.
const ORDER_BY: Record<ListingSort, string> = {
  newest: 'l.created_at DESC, l.id DESC',
  price_asc: 'l.price_per_kg_cents ASC, l.id ASC',
  price_desc: 'l.price_per_kg_cents DESC, l.id DESC',
  harvest_newest: 'l.harvest_date DESC, l.id DESC',
  title: 'lower(l.title) ASC, l.id ASC',
};

/** Mapping of API field names to columns, for inserts and partial updates. */
const FIELD_COLUMNS: Record<keyof ListingFields, string> = {
  title: 'title',
  originCountry: 'origin_country',
  originRegion: 'origin_region',
  variety: 'variety',
  grade: 'grade',
  pricePerKgCents: 'price_per_kg_cents',
  currency: 'currency',
  stockKg: 'stock_kg',
  minOrderKg: 'min_order_kg',
  harvestDate: 'harvest_date',
  description: 'description',
};

export async function findListing(db: Queryable, id: number): Promise<Listing | undefined> {
  const { rows } = await db.query<Listing>(`SELECT ${COLUMNS} FROM ${FROM} WHERE l.id = $1`, [id]);
  return rows[0];
}

export interface ListingFilter {
  /** Words matched anywhere in the title, description, origin or supplier name. */
  q?: string | undefined;
  /** Country or region of origin, whole and case-insensitive. */
  origin?: string | undefined;
  variety?: Variety | undefined;
  minPriceCents?: number | undefined;
  maxPriceCents?: number | undefined;
  /** Only listings that can be ordered now: stock at least the minimum order. */
  inStock?: boolean | undefined;
  supplierId?: number | undefined;
  status: ListingStatus | 'all';
  sort: ListingSort;
  limit: number;
  offset: number;
}

export function listListings(db: Queryable, f: ListingFilter): Promise<{ items: Listing[]; total: number }> {
  const where: string[] = [];
  const values: unknown[] = [];
  const param = (v: unknown): string => `$${values.push(v)}`;
  if (f.status !== 'all') where.push(`l.status = ${param(f.status)}`);
  for (const word of (f.q ?? '').split(/\s+/).filter(Boolean).slice(0, 8)) {
    const p = param(containsPattern(word));
    where.push(
      `(l.title ILIKE ${p} OR l.description ILIKE ${p} OR l.origin_country ILIKE ${p} OR l.origin_region ILIKE ${p} OR s.name ILIKE ${p})`,
    );
  }
  if (f.origin) {
    const p = param(f.origin);
    where.push(`(lower(l.origin_country) = lower(${p}) OR lower(l.origin_region) = lower(${p}))`);
  }
  if (f.variety) where.push(`l.variety = ${param(f.variety)}`);
  if (f.minPriceCents !== undefined) where.push(`l.price_per_kg_cents >= ${param(f.minPriceCents)}`);
  if (f.maxPriceCents !== undefined) where.push(`l.price_per_kg_cents <= ${param(f.maxPriceCents)}`);
  if (f.inStock) where.push('l.stock_kg >= l.min_order_kg');
  if (f.supplierId !== undefined) where.push(`l.supplier_id = ${param(f.supplierId)}`);
  return pagedQueryOneTrip<Listing>(db, {
    key: 'l.id',
    select: COLUMNS,
    from: FROM,
    where,
    values,
    orderBy: ORDER_BY[f.sort],
    limit: f.limit,
    offset: f.offset,
  });
}

export async function insertListing(db: Queryable, supplierId: number, fields: ListingFields): Promise<Listing> {
  const keys = Object.keys(FIELD_COLUMNS) as (keyof ListingFields)[];
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO listings (supplier_id, ${keys.map((k) => FIELD_COLUMNS[k]).join(', ')})
     VALUES ($1, ${keys.map((_, i) => `$${i + 2}`).join(', ')}) RETURNING id::int AS id`,
    [supplierId, ...keys.map((k) => fields[k])],
  );
  return (await findListing(db, rows[0]!.id))!;
}

/** Applies the given fields; the caller has checked the listing exists and is active. */
export async function updateListing(db: Queryable, id: number, fields: Partial<ListingFields>): Promise<Listing> {
  const keys = (Object.keys(fields) as (keyof ListingFields)[]).filter((k) => fields[k] !== undefined);
  await db.query(
    `UPDATE listings SET ${keys.map((k, i) => `${FIELD_COLUMNS[k]} = $${i + 2}`).join(', ')}, updated_at = now() WHERE id = $1`,
    [id, ...keys.map((k) => fields[k])],
  );
  return (await findListing(db, id))!;
}

export async function archiveListing(db: Queryable, id: number): Promise<Listing> {
  await db.query(`UPDATE listings SET status = 'archived', updated_at = now() WHERE id = $1`, [id]);
  return (await findListing(db, id))!;
}

/** Locks a listing row for the rest of the transaction; its owner and status, for checks. */
export async function lockListing(db: Queryable, id: number): Promise<{ ownerUserId: number; status: ListingStatus } | undefined> {
  const { rows } = await db.query<{ ownerUserId: number; status: ListingStatus }>(
    `SELECT s.owner_user_id::int AS "ownerUserId", l.status FROM listings l JOIN suppliers s ON s.id = l.supplier_id
     WHERE l.id = $1 FOR UPDATE OF l`,
    [id],
  );
  return rows[0];
}

/** A listing row locked for a stock change, with what the reservation checks need. */
export interface StockListing {
  id: number;
  title: string;
  status: ListingStatus;
  pricePerKgCents: number;
  currency: Currency;
  stockKg: number;
  minOrderKg: number;
}

/** Locks the listings in id order (so two reservations never deadlock) for the rest of the transaction. */
export async function lockListingsForStock(tx: Queryable, ids: number[]): Promise<Map<number, StockListing>> {
  const { rows } = await tx.query<StockListing>(
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
