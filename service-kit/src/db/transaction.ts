import type pg from 'pg';

/**
 * Runs `fn` on one client of `pool` and releases it. A connection lost while the client is checked
 * out is reported as an 'error' event on it, which with no listener would crash the process (the
 * statement in flight fails with it anyway); such a client, or one `fn` marks broken (its state
 * unknown: a ROLLBACK or an unlock that failed), is released with the error, so the pool destroys
 * it instead of handing it to the next caller.
 */
export async function withClient<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient, markBroken: (err: unknown) => Error) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onLost = (err: Error): void => {
    lost = err;
  };
  client.on('error', onLost);
  let broken: Error | undefined;
  const markBroken = (err: unknown): Error => (broken = err instanceof Error ? err : new Error(String(err)));
  try {
    return await fn(client, markBroken);
  } finally {
    client.removeListener('error', onLost);
    client.release(broken ?? lost);
  }
}

/**
 * Runs `fn` in one transaction on one client of `pool`: COMMIT when it resolves, ROLLBACK when it
 * throws (or, with `rollback: true`, always: a dry run that answers what would have been). A client
 * whose ROLLBACK failed is destroyed, not reused.
 */
export function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, opts?: { rollback?: boolean }): Promise<T> {
  return withClient(pool, async (client, markBroken) => {
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query(opts?.rollback ? 'ROLLBACK' : 'COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(markBroken);
      throw err;
    }
  });
}
