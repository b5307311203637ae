/** The two databases a service's rows live in during a migration. */
export type Side = 'monolith' | 'service';
export const SIDES: readonly Side[] = ['monolith', 'service'];
export const otherSide = (side: Side): Side => (side === 'monolith' ? 'service' : 'monolith');

/** A key column: its (monolith-side) name and the SQL type its text form is cast back to. */
export interface KeyColumn {
  name: string;
  type: 'bigint' | 'text';
}

/** How one table of the monolith maps onto a table of a service. */
export interface TableMapping {
  /** The table's name on each side (a service may rename). */
  monolith: string;
  service: string;
  /** The primary key, by monolith column name; the same values on both sides (ids are disjoint by range). */
  key: readonly KeyColumn[];
  /** Every column: [monolith column, service column]. The key columns are among them. */
  columns: readonly (readonly [string, string])[];
}

/** The tables a service owns, in dependency order (parents first). */
export interface ServiceDataMapping {
  service: string;
  tables: readonly TableMapping[];
}

const same = (...names: string[]): [string, string][] => names.map((n) => [n, n]);
const ID: readonly KeyColumn[] = [{ name: 'id', type: 'bigint' }];

/** The reference migration: which monolith rows each extracted service owns. */
export const MAPPINGS: Record<string, ServiceDataMapping> = {
  auth: {
    service: 'auth',
    tables: [
      {
        monolith: 'users',
        service: 'users',
        key: ID,
        columns: same('id', 'email', 'name', 'role', 'password_hash', 'created_at', 'updated_at'),
      },
    ],
  },
  listings: {
    service: 'listings',
    tables: [
      {
        monolith: 'suppliers',
        service: 'suppliers',
        key: ID,
        columns: same('id', 'owner_user_id', 'name', 'country', 'region', 'certifications', 'rating', 'created_at', 'updated_at'),
      },
      {
        monolith: 'listings',
        service: 'listings',
        key: ID,
        columns: same(
          'id',
          'supplier_id',
          'title',
          'origin_country',
          'origin_region',
          'variety',
          'grade',
          'price_per_kg_cents',
          'currency',
          'stock_kg',
          'min_order_kg',
          'harvest_date',
          'description',
          'status',
          'created_at',
          'updated_at',
        ),
      },
      {
        monolith: 'stock_reservations',
        service: 'stock_reservations',
        key: [{ name: 'key', type: 'text' }],
        columns: same('key', 'owner_user_id', 'status', 'created_at', 'released_at'),
      },
      {
        monolith: 'stock_reservation_items',
        service: 'stock_reservation_items',
        key: [
          { name: 'reservation_key', type: 'text' },
          { name: 'listing_id', type: 'bigint' },
        ],
        columns: same('reservation_key', 'listing_id', 'title', 'quantity_kg', 'unit_price_cents', 'currency'),
      },
    ],
  },
  orders: {
    service: 'orders',
    tables: [
      {
        monolith: 'orders',
        service: 'orders',
        key: ID,
        // The service names the buyer column after what it holds: a user id of the auth service.
        columns: [
          ...same('id'),
          ['buyer_user_id', 'buyer_id'],
          ...same('status', 'currency', 'total_cents', 'reservation_key', 'created_at', 'updated_at'),
        ],
      },
      {
        monolith: 'order_items',
        service: 'order_items',
        key: ID,
        columns: same('id', 'order_id', 'listing_id', 'listing_title', 'quantity_kg', 'unit_price_cents'),
      },
      {
        monolith: 'idempotency_keys',
        service: 'idempotency_keys',
        key: [
          { name: 'user_id', type: 'bigint' },
          { name: 'key', type: 'text' },
        ],
        columns: same('user_id', 'key', 'request_hash', 'response_status', 'response_body', 'created_at'),
      },
    ],
  },
};

export class UnknownServiceError extends Error {
  override readonly name = 'UnknownServiceError';
}

export function mappingFor(service: string): ServiceDataMapping {
  const m = Object.hasOwn(MAPPINGS, service) ? MAPPINGS[service] : undefined;
  if (!m) throw new UnknownServiceError(`no data mapping for service "${service}"; known: ${Object.keys(MAPPINGS).join(', ')}`);
  return m;
}

/** A table's name on one side. */
export const tableOn = (t: TableMapping, side: Side): string => t[side];

/** The table's columns as named on one side, in mapping order. */
export const columnsOn = (t: TableMapping, side: Side): string[] => t.columns.map((c) => c[side === 'monolith' ? 0 : 1]);

/** The key columns as named on one side, with their types. */
export function keyOn(t: TableMapping, side: Side): KeyColumn[] {
  return t.key.map((k) => {
    const pair = t.columns.find((c) => c[0] === k.name);
    if (!pair) throw new Error(`key column ${k.name} of ${t.monolith} is not among its mapped columns`);
    return { name: side === 'monolith' ? pair[0] : pair[1], type: k.type };
  });
}

/** SQL identifiers come from the mapping above, never from input; still, refuse anything odd. */
export function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`"${name}" is not a plain SQL identifier`);
  return `"${name}"`;
}
