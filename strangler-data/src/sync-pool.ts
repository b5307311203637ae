import pg from 'pg';

/** The name the data toolkit's sessions carry in `pg_stat_activity`, so a DBA tells the replicator from the apps. */
export const SYNC_APPLICATION_NAME = 'strangler-sync';

/** A pool of the data toolkit (replicator, backfill, verify, switch) on one database; an idle client's lost connection is replaced, not fatal. */
export function openSyncPool(url: string, max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: SYNC_APPLICATION_NAME });
  pool.on('error', () => {});
  return pool;
}
