import type pg from 'pg';

/**
 * Runs `fn` in one transaction on one client of `pool`: COMMIT when it resolves, ROLLBACK when it
 * throws (or, with `rollback: true`, always: a dry run that answers what would have been).
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  opts?: { rollback?: boolean },
): Promise<T> {
  const client = await pool.connect();
  // A connection lost while the client is checked out is reported as an 'error' event on it, which
  // with no listener would crash the process; the statement in flight fails with it anyway.
  let lost: Error | undefined;
  const onLost = (err: Error): void => {
    lost = err;
  };
  client.on('error', onLost);
  // A client whose ROLLBACK failed is in an unknown state: released with the error, so the pool
  // destroys it instead of handing it to the next caller.
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query(opts?.rollback ? 'ROLLBACK' : 'COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
      broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
    });
    throw err;
  } finally {
    client.removeListener('error', onLost);
    client.release(broken ?? lost);
  }
}
