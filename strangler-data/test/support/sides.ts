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
  const monolith = closablePool(m.url);
  const service = closablePool(s.url);
  const pools = { monolith: monolith.pool, service: service.pool };
  return {
    mapping,
    pools,
    urls: { monolith: m.url, service: s.url },
    async close() {
      await monolith.end();
      await service.end();
      await m.drop();
      await s.drop();
    },
  };
}

/**
 * A pool whose `end` waits until every connection has closed. `pg.Pool#end` resolves once its
 * clients are only asked to end; a database dropped WITH (FORCE) in that moment terminates them
 * mid-goodbye, and the FATAL reaches a client no one listens to any more: an uncaught error.
 */
function closablePool(connectionString: string): { pool: pg.Pool; end(): Promise<void> } {
  const pool = new pg.Pool({ connectionString, max: 6 });
  let open = 0;
  let allClosed: (() => void) | undefined;
  pool.on('connect', () => void open++);
  pool.on('remove', () => {
    if (--open === 0) allClosed?.();
  });
  return {
    pool,
    async end() {
      const closed = open === 0 ? Promise.resolve() : new Promise<void>((resolve) => (allClosed = resolve));
      await pool.end();
      await closed;
    },
  };
}

/** One number from a query. */
export async function count(pool: pg.Pool, sql: string, values: unknown[] = []): Promise<number> {
  return Number(Object.values((await pool.query(sql, values)).rows[0])[0]);
}
