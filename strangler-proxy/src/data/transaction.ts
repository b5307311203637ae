import type pg from 'pg';
import { inTransaction } from '@strangler/service-kit/transaction';

/** Runs `fn` in one transaction on one client of `pool` (service-kit's: a client whose ROLLBACK failed is destroyed). */
export { inTransaction };

/** The session flag that tells the capture trigger a write is a copy, not a change to send back. */
export const APPLYING_FLAG = 'strangler.applying';

/** `inTransaction` with capture off: what a copy writes is not captured again. */
export function inCopyTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (client) => {
    await client.query(`SELECT set_config('${APPLYING_FLAG}', 'on', true)`);
    return fn(client);
  });
}
