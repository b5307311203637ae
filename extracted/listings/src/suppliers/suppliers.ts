// Copied from monolith/src/suppliers/suppliers.ts; the monolith's copy retires with the listings group's cutover. Differences: a page and its total come back in one round trip (pagedQueryOneTrip).
import { containsPattern, isoTimestamp, pagedQueryOneTrip, type Queryable } from '@strangler/service-kit';

/** A supplier as the API shows it. */
export interface Supplier {
  id: number;
  name: string;
  country: string;
  region: string;
  certifications: string[];
  /** 0–5 in steps of 0.1; null until rated. */
  rating: number | null;
  createdAt: string;
}

const COLUMNS = `s.id::int AS id, s.name, s.country, s.region, s.certifications, s.rating::float8 AS rating,
  ${isoTimestamp('s.created_at')} AS "createdAt"`;

export async function findSupplier(db: Queryable, id: number): Promise<Supplier | undefined> {
  const { rows } = await db.query<Supplier>(`SELECT ${COLUMNS} FROM suppliers s WHERE s.id = $1`, [id]);
  return rows[0];
}

export async function findSupplierByOwner(db: Queryable, userId: number): Promise<Supplier | undefined> {
  const { rows } = await db.query<Supplier>(`SELECT ${COLUMNS} FROM suppliers s WHERE s.owner_user_id = $1`, [userId]);
  return rows[0];
}

/** The id of the user who owns supplier `id`. */
export async function supplierOwner(db: Queryable, id: number): Promise<number | undefined> {
  const { rows } = await db.query<{ owner: number }>('SELECT owner_user_id::int AS owner FROM suppliers WHERE id = $1', [id]);
  return rows[0]?.owner;
}

export interface SupplierFilter {
  q?: string | undefined;
  country?: string | undefined;
  limit: number;
  offset: number;
}

/** Suppliers by name, filtered; with the total before paging. */
export function listSuppliers(db: Queryable, f: SupplierFilter): Promise<{ items: Supplier[]; total: number }> {
  const where: string[] = [];
  const values: unknown[] = [];
  if (f.q) {
    values.push(containsPattern(f.q));
    where.push(`(s.name ILIKE $${values.length} OR s.region ILIKE $${values.length})`);
  }
  if (f.country) {
    values.push(f.country);
    where.push(`lower(s.country) = lower($${values.length})`);
  }
  return pagedQueryOneTrip<Supplier>(db, {
    select: COLUMNS,
    from: 'suppliers s',
    where,
    values,
    orderBy: 's.name, s.id',
    limit: f.limit,
    offset: f.offset,
  });
}

export async function insertSupplier(
  db: Queryable,
  s: { ownerUserId: number; name: string; country: string; region: string; certifications: string[] },
): Promise<Supplier | undefined> {
  const { rows } = await db.query<Supplier>(
    `INSERT INTO suppliers AS s (owner_user_id, name, country, region, certifications) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (owner_user_id) DO NOTHING RETURNING ${COLUMNS}`,
    [s.ownerUserId, s.name, s.country, s.region, s.certifications],
  );
  return rows[0];
}
