import type pg from 'pg';
import type { Key } from './row-transfer.ts';
import { APPLYING_FLAG, inTransaction } from './transaction.ts';
import { ident, keyOn, tableOn, type ServiceDataMapping, type Side } from './table-mapping.ts';

/**
 * Change capture by trigger and outbox, on both sides. Every committed insert, update or delete of
 * a mapped table adds the row's key to `strangler_outbox` in the same transaction, so a change is
 * captured if and only if it commits. The outbox holds keys, not row images: the replicator copies
 * the row as it is when it applies the change, so changes to one row applied in any order still
 * converge on its last committed state. Writes made by the replicator itself (session flag
 * `strangler.applying`) are not captured, so nothing echoes back.
 *
 * Why not PostgreSQL logical replication: it needs `wal_level=logical` (a server restart; on RDS a
 * parameter group), a replication role, and copies tables as they are, with no mapping between the
 * monolith's schema and a service's. Triggers need nothing but the tables' owner.
 */
/** Bumped whenever the trigger function changes, so an older one is replaced. */
const CAPTURE_VERSION = 'strangler capture v1';

const INSTALL = `
CREATE TABLE IF NOT EXISTS strangler_outbox (
  id          bigserial PRIMARY KEY,
  table_name  text NOT NULL,
  -- The row's key columns in text form, in key order.
  key         text[] NOT NULL,
  captured_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS strangler_outbox_table ON strangler_outbox (table_name, id);
CREATE OR REPLACE FUNCTION strangler_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  col text;
  new_key text[] := '{}';
  old_key text[] := '{}';
BEGIN
  IF current_setting('${APPLYING_FLAG}', true) = 'on' THEN RETURN NULL; END IF;
  FOREACH col IN ARRAY TG_ARGV LOOP
    IF TG_OP <> 'DELETE' THEN new_key := new_key || (to_jsonb(NEW) ->> col); END IF;
    IF TG_OP <> 'INSERT' THEN old_key := old_key || (to_jsonb(OLD) ->> col); END IF;
  END LOOP;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO strangler_outbox (table_name, key) VALUES (TG_TABLE_NAME, new_key);
  END IF;
  -- A delete, or an update that changed the key: the old key's row is gone.
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND old_key IS DISTINCT FROM new_key) THEN
    INSERT INTO strangler_outbox (table_name, key) VALUES (TG_TABLE_NAME, old_key);
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION strangler_capture() IS '${CAPTURE_VERSION}';`;

/**
 * Installs the outbox and a capture trigger on every mapped table of one side, unless they are all
 * there already. Idempotent, and a no-op when installed: the DDL locks the tables, so on a live
 * database it must not run again with every command.
 */
export async function installCapture(pool: pg.Pool, mapping: ServiceDataMapping, side: Side): Promise<void> {
  const tables = mapping.tables.map((t) => tableOn(t, side));
  const { rows } = await pool.query<{ version: string | null; triggers: number }>(
    `SELECT (SELECT obj_description(p.oid, 'pg_proc') FROM pg_proc p WHERE p.proname = 'strangler_capture' AND p.pronamespace = 'public'::regnamespace) AS version,
       (SELECT count(*)::int FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
        WHERE g.tgname = 'strangler_capture' AND c.relname = ANY($1) AND c.relnamespace = 'public'::regnamespace) AS triggers`,
    [tables],
  );
  if (rows[0]!.version === CAPTURE_VERSION && rows[0]!.triggers === tables.length) return;
  await inTransaction(pool, async (client) => {
    // Two installers at once would race on CREATE OR REPLACE; serialise them.
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('strangler-capture-install'))`);
    await client.query(INSTALL);
    for (const t of mapping.tables) {
      const args = keyOn(t, side)
        .map((k) => `'${k.name}'`)
        .join(', ');
      await client.query(
        `CREATE OR REPLACE TRIGGER strangler_capture AFTER INSERT OR UPDATE OR DELETE ON ${ident(tableOn(t, side))}
         FOR EACH ROW EXECUTE FUNCTION strangler_capture(${args})`,
      );
    }
  });
}

export interface OutboxEntry {
  id: number;
  table: string;
  key: Key;
}

/** The oldest captured changes of these tables, in capture order, but for the ids in `skip`. */
export async function readOutbox(
  db: pg.Pool | pg.PoolClient,
  tables: readonly string[],
  limit: number,
  skip: readonly number[] = [],
): Promise<OutboxEntry[]> {
  const { rows } = await db.query<{ id: string; table: string; key: string[] }>(
    `SELECT id, table_name AS table, key FROM strangler_outbox WHERE table_name = ANY($1)${skip.length ? ' AND id <> ALL($3::bigint[])' : ''} ORDER BY id LIMIT $2`,
    skip.length ? [tables, limit, skip] : [tables, limit],
  );
  return rows.map((r) => ({ id: Number(r.id), table: r.table, key: r.key }));
}

/** Captures a change again, as its trigger would have: what an operator's retry of a dead letter does. */
export async function requeue(db: pg.Pool, table: string, key: Key): Promise<void> {
  await db.query('INSERT INTO strangler_outbox (table_name, key) VALUES ($1, $2)', [table, key]);
}

/** Forgets applied changes, by id: a change captured meanwhile (even with a lower id) stays. */
export async function removeFromOutbox(db: pg.Pool, ids: readonly number[]): Promise<void> {
  if (ids.length) await db.query('DELETE FROM strangler_outbox WHERE id = ANY($1::bigint[])', [ids]);
}

export interface Pending {
  /** Changes captured and not yet applied on the other side. */
  changes: number;
  /** Age of the oldest of them, in seconds (0 when none). */
  oldestSeconds: number;
}

/** How far behind the other side is: captured, committed changes of these tables not yet applied. */
export async function pendingChanges(db: pg.Pool, tables: readonly string[]): Promise<Pending> {
  const { rows } = await db.query<{ n: string; age: number | null }>(
    `SELECT count(*) AS n, extract(epoch FROM clock_timestamp() - min(captured_at))::float8 AS age
     FROM strangler_outbox WHERE table_name = ANY($1)`,
    [tables],
  );
  return { changes: Number(rows[0]!.n), oldestSeconds: rows[0]!.age ?? 0 };
}
