import type pg from 'pg';

/** The session flag that tells the capture trigger a write is a copy, not a change to send back. */
export const APPLYING_FLAG = 'strangler.applying';

/** Runs `fn` in one transaction on one client of `pool`: COMMIT when it resolves, ROLLBACK when it throws. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** `inTransaction` with capture off: what a copy writes is not captured again. */
export function inCopyTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (client) => {
    await client.query(`SELECT set_config('${APPLYING_FLAG}', 'on', true)`);
    return fn(client);
  });
}
