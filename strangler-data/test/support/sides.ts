import pg from 'pg';
import type { ServiceData } from '../../src/replicate.ts';

/** A service's two scratch databases, a pool on each, and how to get rid of them. */
export interface ServiceDatabases extends ServiceData {
  urls: { monolith: string; service: string };
  close(): Promise<void>;
}

/** A pool on each of two scratch databases, for `mapping`; closing ends the pools and drops both. */
export function openSides(
  m: { url: string; drop(): Promise<void> },
  s: { url: string; drop(): Promise<void> },
  mapping: ServiceData['mapping'],
): ServiceDatabases {
  const pools = { monolith: new pg.Pool({ connectionString: m.url, max: 6 }), service: new pg.Pool({ connectionString: s.url, max: 6 }) };
  return {
    mapping,
    pools,
    urls: { monolith: m.url, service: s.url },
    async close() {
      await pools.monolith.end();
      await pools.service.end();
      await m.drop();
      await s.drop();
    },
  };
}

/** One number from a query. */
export async function count(pool: pg.Pool, sql: string, values: unknown[] = []): Promise<number> {
  return Number(Object.values((await pool.query(sql, values)).rows[0])[0]);
}
