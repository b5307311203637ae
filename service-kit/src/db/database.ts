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
  /**
   * Connections kept open however long they sit idle (default 0: each closes after 10 s idle). A
   * closed connection takes its prepared statements with it, so an app that names its statements
   * keeps its pool warm.
   */
  min?: number;
  /**
   * How many distinct parameterized statement texts are prepared by name, once per connection, and
   * from then on only bound and executed (default 0: every statement parsed and planned afresh).
   * Texts past the budget run unnamed: a search that builds a new text from every combination of
   * its filters must not grow each connection's prepared statements (memory in the server) without
   * bound. Statements without parameters (BEGIN, migrations) are never named.
   */
  namedStatements?: number;
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
    min: opts.min ?? 0,
    statement_timeout: opts.statementTimeoutMs ?? 10_000,
    application_name: opts.applicationName,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const named = statementNamer(opts.namedStatements ?? 0);
  const on = (q: pg.Pool | pg.PoolClient): Queryable =>
    named ? { query: (text, values) => (values === undefined ? q.query(text) : q.query(named(text, values))) } : q;
  const onPool = on(pool);

  return {
    query: (text, values) => onPool.query(text, values),
    withTransaction: (fn, opts) => inTransaction(pool, (client) => fn(on(client)), opts),
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

/**
 * The query config naming `text`'s prepared statement (`{ name, text, values }`: node-postgres
 * parses it once per connection), for the first `budget` distinct texts; unnamed past it. Names are
 * per pool, so one name never stands for two texts on a connection. Undefined for a budget of 0.
 */
function statementNamer(budget: number): ((text: string, values: unknown[]) => pg.QueryConfig) | undefined {
  if (budget <= 0) return undefined;
  const names = new Map<string, string>();
  return (text, values) => {
    let name = names.get(text);
    if (name === undefined && names.size < budget) names.set(text, (name = `s${names.size + 1}`));
    return name === undefined ? { text, values } : { name, text, values };
  };
}

/**
 * A service's pool. Ten connections at most, as the monolith's: under load a connection is held for
 * the statement and for the event loop's lag in reading its answer, so a smaller pool makes requests
 * queue for one (`npm run bench:services`, 8 clients at once on 2 shared cores: with 4, the listing
 * search's and me's throughput fell by about 15 % and 25 % against 10, over three noisy runs each). Four of them kept open however long idle, as each
 * holds its prepared statements (one closed after an idle spell parses and plans them all again),
 * the rest closing after 10 s idle, so a quiet task does not hold ten server backends. Statements
 * named, up to 200 distinct texts: every fixed-shape query of a service and its common search
 * shapes, while a flood of rare filter combinations only runs unnamed.
 */
export function servicePool(): Pick<DatabaseOptions, 'max' | 'min' | 'namedStatements'> {
  return { max: 10, min: 4, namedStatements: 200 };
}
