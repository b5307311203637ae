/** How one table of the monolith maps onto a table of a service. */
export interface TableMapping {
  /** Source and target table names (a service may rename). */
  source: string;
  target: string;
  /** The integer primary key, the same value on both sides (ids are disjoint by range). */
  key: string;
  /** Columns in the same order on both sides: [source column, target column]. */
  columns: readonly (readonly [string, string])[];
}

/** The tables a service owns, in dependency order (parents first). */
export interface ServiceDataMapping {
  service: string;
  tables: readonly TableMapping[];
}

const same = (...names: string[]): [string, string][] => names.map((n) => [n, n]);

/** The reference migration: which monolith rows each extracted service owns. */
export const MAPPINGS: Record<string, ServiceDataMapping> = {
  listings: {
    service: 'listings',
    tables: [
      { source: 'suppliers', target: 'suppliers', key: 'id', columns: same('id', 'owner_user_id', 'name', 'country', 'region', 'certifications', 'rating', 'created_at', 'updated_at') },
      {
        source: 'listings',
        target: 'listings',
        key: 'id',
        columns: same('id', 'supplier_id', 'title', 'origin_country', 'origin_region', 'variety', 'grade', 'price_per_kg_cents', 'currency', 'stock_kg', 'min_order_kg', 'harvest_date', 'description', 'status', 'created_at', 'updated_at'),
      },
    ],
  },
};

export function mappingFor(service: string): ServiceDataMapping {
  const m = MAPPINGS[service];
  if (!m) throw new Error(`no data mapping for service "${service}"; known: ${Object.keys(MAPPINGS).join(', ')}`);
  return m;
}

/** SQL identifiers come from the mapping above, never from input; still, refuse anything odd. */
export function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`"${name}" is not a plain SQL identifier`);
  return `"${name}"`;
}
