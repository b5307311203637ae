import pg from 'pg';
import { inTransaction } from './transaction.ts';

// COUNT(*) and SUM() are bigint (int8): parse them as numbers, our counts are far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));
// DATE columns stay 'YYYY-MM-DD' strings instead of becoming midnight in the server's time zone.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

/** Anything that runs SQL: the pool, or the one client of a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface Database extends Queryable {
  /**
   * Runs `fn` in one transaction on one client: COMMIT when it resolves, ROLLBACK when it throws.
   * With `rollback: true` it rolls back even on success: a dry run that answers what would have been.
   */
  withTransaction<T>(fn: (tx: Queryable) => Promise<T>, opts?: { rollback?: boolean }): Promise<T>;
  /** True when the server answers a trivial query within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  connectionString: string;
  /** Who connects, as `pg_stat_activity.application_name` shows it: the app's name (monolith, auth, listings, orders). */
  applicationName: string;
  /** Pool size (default 10). */
  max?: number;
  /** Per-statement timeout in ms, enforced by the server (default 10 000). */
  statementTimeoutMs?: number;
}

/**
 * The one door to PostgreSQL. Query parameters are never logged: an error carries the SQL text and
 * the server's message, not the values (they hold emails and password hashes).
 */
export function createDatabase(opts: DatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    statement_timeout: opts.statementTimeoutMs ?? 10_000,
    application_name: opts.applicationName,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});

  return {
    query: (text, values) => pool.query(text, values),
    withTransaction: (fn, opts) => inTransaction(pool, fn, opts),
    async ping(timeoutMs = 1000) {
      try {
        await Promise.race([
          pool.query('SELECT 1'),
          new Promise((_, reject) => setTimeout(() => reject(new Error('ping timed out')), timeoutMs).unref()),
        ]);
        return true;
      } catch {
        return false;
      }
    },
    close: () => pool.end(),
  };
}
