import type pg from 'pg';
import { inTransaction, withClient } from '@strangler/service-kit/transaction';

/** service-kit's: one client (destroyed when its connection was lost or its state is unknown), and one transaction on it. */
export { inTransaction, withClient };

/** The session flag that tells the capture trigger a write is a copy, not a change to send back. */
export const APPLYING_FLAG = 'strangler.applying';

/** `inTransaction` with capture off: what a copy writes is not captured again. */
export function inCopyTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (client) => {
    await client.query(`SELECT set_config('${APPLYING_FLAG}', 'on', true)`);
    return fn(client);
  });
}
