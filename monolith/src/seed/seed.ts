import { hashPassword, type Database, type Queryable } from '@strangler/service-kit';
import { CANCELLABLE } from '../orders/orders.ts';
import { generateSeedData, type SeedData } from './seed-data.ts';

export interface SeedCounts {
  users: number;
  suppliers: number;
  listings: number;
  orders: number;
}

/** Inserts the seed into an empty database in one transaction; does nothing when users exist. */
export async function seedIfEmpty(db: Database, data: SeedData = generateSeedData()): Promise<SeedCounts | undefined> {
  const hashes = await hashSeedPasswords(data);
  return db.withTransaction(async (tx) => {
    // Serialise concurrent seeders: the second sees the first one's rows and stops.
    await tx.query('LOCK TABLE users IN EXCLUSIVE MODE');
    const { rows } = await tx.query<{ n: number }>('SELECT count(*) AS n FROM users');
    if (rows[0]!.n > 0) return undefined;
    await insertSeed(tx, data, hashes);
    return { users: data.users.length, suppliers: data.suppliers.length, listings: data.listings.length, orders: data.orders.length };
  });
}

/** Deletes every row of the app's tables and seeds again. */
export async function reseed(db: Database, data: SeedData = generateSeedData()): Promise<SeedCounts> {
  await db.query(
    'TRUNCATE order_items, orders, idempotency_keys, stock_reservation_items, stock_reservations, listings, suppliers, revoked_sessions, users RESTART IDENTITY CASCADE',
  );
  const counts = await seedIfEmpty(db, data);
  if (!counts) throw new Error('the database was written to while reseeding; run the seed again');
  return counts;
}

// Hash each distinct password once: the many seeded users share one, so this takes four hashes, not 72.
async function hashSeedPasswords(data: SeedData): Promise<Map<string, string>> {
  const distinct = [...new Set(data.users.map((u) => u.password))];
  return new Map(await Promise.all(distinct.map(async (p) => [p, await hashPassword(p)] as const)));
}

async function insertSeed(tx: Queryable, data: SeedData, hashes: Map<string, string>): Promise<void> {
  const col = <T, K extends keyof T>(rows: T[], key: K): T[K][] => rows.map((r) => r[key]);
  const { users, suppliers, listings, orders } = data;
  await tx.query(
    `INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at)
     SELECT id, email, name, role, hash, created, created FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
       AS t(id, email, name, role, hash, created)`,
    [
      col(users, 'id'),
      col(users, 'email'),
      col(users, 'name'),
      col(users, 'role'),
      users.map((u) => hashes.get(u.password)),
      col(users, 'createdAt'),
    ],
  );
  await tx.query(
    `INSERT INTO suppliers (id, owner_user_id, name, country, region, certifications, rating, created_at, updated_at)
     SELECT id, owner, name, country, region, string_to_array(certs, '|'), rating, created, created
     FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::timestamptz[])
       AS t(id, owner, name, country, region, certs, rating, created)`,
    [
      col(suppliers, 'id'),
      col(suppliers, 'ownerUserId'),
      col(suppliers, 'name'),
      col(suppliers, 'country'),
      col(suppliers, 'region'),
      suppliers.map((s) => s.certifications.join('|')),
      col(suppliers, 'rating'),
      col(suppliers, 'createdAt'),
    ],
  );
  await tx.query(
    `INSERT INTO listings (id, supplier_id, title, origin_country, origin_region, variety, grade, price_per_kg_cents, currency,
       stock_kg, min_order_kg, harvest_date, description, status, created_at, updated_at)
     SELECT *, created FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[],
       $9::text[], $10::int[], $11::int[], $12::date[], $13::text[], $14::text[], $15::timestamptz[])
       AS t(id, supplier, title, country, region, variety, grade, price, currency, stock, min_order, harvest, description, status, created)`,
    [
      col(listings, 'id'),
      col(listings, 'supplierId'),
      col(listings, 'title'),
      col(listings, 'originCountry'),
      col(listings, 'originRegion'),
      col(listings, 'variety'),
      col(listings, 'grade'),
      col(listings, 'pricePerKgCents'),
      col(listings, 'currency'),
      col(listings, 'stockKg'),
      col(listings, 'minOrderKg'),
      col(listings, 'harvestDate'),
      col(listings, 'description'),
      col(listings, 'status'),
      col(listings, 'createdAt'),
    ],
  );
  // An open order holds its stock by reservation, as every order placed through the API does.
  const reservationKey = (o: SeedData['orders'][number]): string | null => (CANCELLABLE.includes(o.status) ? `order:${o.id}` : null);
  await tx.query(
    `INSERT INTO orders (id, buyer_user_id, status, currency, total_cents, reservation_key, created_at, updated_at)
     SELECT id, buyer, status, currency, total, reservation, created, created
     FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::timestamptz[]) AS t(id, buyer, status, currency, total, reservation, created)`,
    [
      col(orders, 'id'),
      col(orders, 'buyerUserId'),
      col(orders, 'status'),
      col(orders, 'currency'),
      orders.map((o) => o.items.reduce((sum, i) => sum + i.quantityKg * i.unitPriceCents, 0)),
      orders.map(reservationKey),
      col(orders, 'createdAt'),
    ],
  );
  const open = orders.filter((o) => reservationKey(o));
  await tx.query(
    `INSERT INTO stock_reservations (key, owner_user_id, created_at) SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[])`,
    [open.map(reservationKey), col(open, 'buyerUserId'), col(open, 'createdAt')],
  );
  const held = open.flatMap((o) => o.items.map((i) => ({ key: reservationKey(o), currency: o.currency, ...i })));
  await tx.query(
    `INSERT INTO stock_reservation_items (reservation_key, listing_id, title, quantity_kg, unit_price_cents, currency)
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[], $5::int[], $6::text[])`,
    [
      col(held, 'key'),
      col(held, 'listingId'),
      col(held, 'title'),
      col(held, 'quantityKg'),
      col(held, 'unitPriceCents'),
      col(held, 'currency'),
    ],
  );
  const items = orders.flatMap((o) => o.items.map((i) => ({ orderId: o.id, ...i })));
  await tx.query(
    `INSERT INTO order_items (order_id, listing_id, listing_title, quantity_kg, unit_price_cents)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::int[])`,
    [col(items, 'orderId'), col(items, 'listingId'), col(items, 'title'), col(items, 'quantityKg'), col(items, 'unitPriceCents')],
  );
  // Explicit ids leave the identity sequences behind: move them past the seeded rows.
  for (const table of ['users', 'suppliers', 'listings', 'orders']) {
    await tx.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), (SELECT max(id) FROM ${table}))`);
  }
}
