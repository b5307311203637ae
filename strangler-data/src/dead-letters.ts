import type pg from 'pg';
import { requeue } from './capture.ts';
import type { ServiceData } from './replicate.ts';
import { showKey, type Key } from './row-transfer.ts';
import { tableOn, type Side } from './table-mapping.ts';
import { inTransaction } from './transaction.ts';

/**
 * Changes the other side keeps refusing. A change whose row the other side refuses (a constraint
 * or a bad value) stays in the outbox and is retried while every other change goes past it; its
 * failures are counted in `strangler_apply_failures`. Once it has failed `attempts` passes in a
 * row AND its first failure is `afterMs` old, it moves to `strangler_dead_letters` and leaves the
 * outbox: an operator retries it (back into the outbox) or resolves it (dropped, with who and why
 * in `strangler_dead_letter_log`). A later change of the same row that applies makes the dead
 * letter moot: it is dropped and logged as `applied`. All of it lives in the service's database,
 * next to `strangler_sync_state`. Only PostgreSQL's code and message are kept, never its detail
 * nor any column value: rows hold personal data.
 */

/** When a change the other side keeps refusing is set aside as a dead letter. */
export interface DeadLetterPolicy {
  /** Failed drain passes in a row (default 3). */
  attempts: number;
  /** And at least this long since its first failure, ms (default 10 000): a parent row still on its way arrives well within it. */
  afterMs: number;
}
export const DEAD_LETTER_POLICY: DeadLetterPolicy = { attempts: 3, afterMs: 10_000 };

export const DEAD_LETTER_SCHEMA = `
CREATE TABLE IF NOT EXISTS strangler_apply_failures (
  service         text NOT NULL,
  side            text NOT NULL CHECK (side IN ('monolith', 'service')),
  table_name      text NOT NULL,
  key             text[] NOT NULL,
  attempts        integer NOT NULL,
  error_code      text NOT NULL,
  error_message   text NOT NULL,
  first_failed_at timestamptz NOT NULL DEFAULT now(),
  last_failed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (service, side, table_name, key)
);
CREATE TABLE IF NOT EXISTS strangler_dead_letters (
  id              bigserial PRIMARY KEY,
  service         text NOT NULL,
  -- The side the change was captured on; the other side refused it.
  side            text NOT NULL CHECK (side IN ('monolith', 'service')),
  table_name      text NOT NULL,
  key             text[] NOT NULL,
  attempts        integer NOT NULL,
  error_code      text NOT NULL,
  error_message   text NOT NULL,
  first_failed_at timestamptz NOT NULL,
  last_failed_at  timestamptz NOT NULL,
  dead_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (service, side, table_name, key)
);
CREATE TABLE IF NOT EXISTS strangler_dead_letter_log (
  id             bigserial PRIMARY KEY,
  dead_letter_id bigint NOT NULL,
  service        text NOT NULL,
  side           text NOT NULL,
  table_name     text NOT NULL,
  key            text[] NOT NULL,
  attempts       integer NOT NULL,
  error_code     text NOT NULL,
  error_message  text NOT NULL,
  action         text NOT NULL CHECK (action IN ('retried', 'resolved', 'applied')),
  actor          text NOT NULL,
  reason         text NOT NULL,
  at             timestamptz NOT NULL DEFAULT now()
);`;

/** Why the other side refused one change: PostgreSQL's code and message. */
export interface Refusal {
  code: string;
  message: string;
}

/** A change refused at least once and still retried: it stays in the outbox. */
export interface FailingChange extends Refusal {
  /** The side it was captured on, and its table there. */
  side: Side;
  table: string;
  key: Key;
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
}

/** A change set aside for an operator: no longer in the outbox. */
export interface DeadLetter extends FailingChange {
  id: number;
  service: string;
  deadAt: string;
}

/** An id that names no dead letter of the service. */
export class DeadLetterNotFoundError extends Error {
  override readonly name = 'DeadLetterNotFoundError';
}

/**
 * True for an error about the row itself — SQLSTATE class 22 (a bad value) or 23 (a constraint:
 * unique, foreign key, check, not null). Anything else (a connection lost, a deadlock, a mapping
 * naming a missing column) is about the database, not one change: the whole round fails and is retried.
 */
export function isRowRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^2[23]/.test(code);
}

/**
 * The refusal as kept: the code and the message only. A constraint's message names the constraint,
 * not the values; a bad value's message can quote the value, so quoted parts are cut.
 */
export function refusalOf(err: unknown): Refusal {
  const e = err as { code: string; message?: string };
  let message = e.message ?? '';
  if (e.code.startsWith('22')) message = message.replace(/:\s.*$/s, '').replace(/"[^"]*"/g, '"…"');
  return { code: e.code, message: message.slice(0, 300) };
}

/** `authors 950 from the monolith: 23505 duplicate key value violates unique constraint "…"` */
export const describeChange = (c: FailingChange): string => `${c.table} ${showKey(c.key)} from the ${c.side}: ${c.code} ${c.message}`;

const COLUMNS = `side, table_name AS "table", key, attempts, error_code AS code, error_message AS message,
  first_failed_at::text AS "firstFailedAt", last_failed_at::text AS "lastFailedAt"`;
const LETTER_COLUMNS = `id::int AS id, service, ${COLUMNS}, dead_at::text AS "deadAt"`;

/** Before the first `prepareSync` of this version the tables are not there yet: nothing failed then. */
async function orNone<T>(query: Promise<T[]>): Promise<T[]> {
  try {
    return await query;
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return [];
    throw err;
  }
}

/**
 * Counts one failed attempt for each refused change (`counts: false`: already counted in this
 * pass, only its error is updated), and moves those the policy gives up on to the dead letters.
 * Returns the changes still retried and the new dead letters.
 */
export async function recordRefusals(
  db: pg.Pool,
  service: string,
  side: Side,
  refused: readonly (Refusal & { table: string; key: Key; counts: boolean })[],
  policy: DeadLetterPolicy,
): Promise<{ failing: FailingChange[]; dead: DeadLetter[] }> {
  const changes = JSON.stringify(refused.map((r) => ({ t: r.table, k: r.key, code: r.code, message: r.message, n: r.counts ? 1 : 0 })));
  return inTransaction(db, async (client) => {
    await client.query(
      `INSERT INTO strangler_apply_failures AS f (service, side, table_name, key, attempts, error_code, error_message)
       SELECT $1, $2, x.t, x.k, x.n, x.code, x.message FROM jsonb_to_recordset($3::jsonb) AS x(t text, k text[], code text, message text, n int)
       ON CONFLICT (service, side, table_name, key) DO UPDATE
         SET attempts = f.attempts + EXCLUDED.attempts, error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message, last_failed_at = now()`,
      [service, side, changes],
    );
    const dead = await client.query<DeadLetter>(
      `WITH dead AS (
         DELETE FROM strangler_apply_failures f USING jsonb_to_recordset($3::jsonb) AS x(t text, k text[])
         WHERE f.service = $1 AND f.side = $2 AND f.table_name = x.t AND f.key = x.k
           AND f.attempts >= $4 AND f.first_failed_at <= now() - make_interval(secs => $5::float8 / 1000)
         RETURNING f.*)
       INSERT INTO strangler_dead_letters AS l (service, side, table_name, key, attempts, error_code, error_message, first_failed_at, last_failed_at)
       SELECT service, side, table_name, key, attempts, error_code, error_message, first_failed_at, last_failed_at FROM dead
       ON CONFLICT (service, side, table_name, key) DO UPDATE
         SET attempts = l.attempts + EXCLUDED.attempts, error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message,
             last_failed_at = EXCLUDED.last_failed_at, dead_at = now()
       RETURNING ${LETTER_COLUMNS}`,
      [service, side, changes, policy.attempts, policy.afterMs],
    );
    const failing = await client.query<FailingChange>(
      `SELECT ${COLUMNS} FROM strangler_apply_failures f JOIN jsonb_to_recordset($3::jsonb) AS x(t text, k text[]) ON f.table_name = x.t AND f.key = x.k
       WHERE f.service = $1 AND f.side = $2`,
      [service, side, changes],
    );
    return { failing: failing.rows, dead: dead.rows };
  });
}

/**
 * Changes applied at last: their failure counts are forgotten, and a dead letter of the same row
 * is moot (the row as it is now has been copied), so it is dropped and logged as `applied`.
 */
export async function forgetApplied(
  db: pg.Pool,
  service: string,
  side: Side,
  applied: readonly { table: string; key: Key }[],
): Promise<void> {
  if (!applied.length) return;
  await db.query(
    `WITH x AS (SELECT * FROM jsonb_to_recordset($3::jsonb) AS x(t text, k text[])),
     forgotten AS (DELETE FROM strangler_apply_failures f USING x WHERE f.service = $1 AND f.side = $2 AND f.table_name = x.t AND f.key = x.k),
     moot AS (DELETE FROM strangler_dead_letters l USING x WHERE l.service = $1 AND l.side = $2 AND l.table_name = x.t AND l.key = x.k RETURNING l.*)
     INSERT INTO strangler_dead_letter_log (dead_letter_id, service, side, table_name, key, attempts, error_code, error_message, action, actor, reason)
     SELECT id, service, side, table_name, key, attempts, error_code, error_message, 'applied', 'replicator', 'a later copy of the row was applied' FROM moot`,
    [service, side, JSON.stringify(applied.map((a) => ({ t: a.table, k: a.key })))],
  );
}

/** Whether the service has any change failing or set aside: when not, an applied batch has nothing to forget. */
export async function hasOpenFailures(db: pg.Pool, service: string): Promise<boolean> {
  const rows = await orNone(
    db
      .query<{ open: boolean }>(
        'SELECT EXISTS (SELECT FROM strangler_apply_failures WHERE service = $1) OR EXISTS (SELECT FROM strangler_dead_letters WHERE service = $1) AS open',
        [service],
      )
      .then((r) => r.rows),
  );
  return rows[0]?.open ?? false;
}

/** The service's dead letters, oldest first. */
export function listDeadLetters(db: pg.Pool | pg.PoolClient, service: string): Promise<DeadLetter[]> {
  return orNone(
    db
      .query<DeadLetter>(`SELECT ${LETTER_COLUMNS} FROM strangler_dead_letters WHERE service = $1 ORDER BY id`, [service])
      .then((r) => r.rows),
  );
}

/** The service's changes refused at least once and still retried, oldest failure first. */
export function listFailing(db: pg.Pool | pg.PoolClient, service: string): Promise<FailingChange[]> {
  return orNone(
    db
      .query<FailingChange>(
        `SELECT ${COLUMNS} FROM strangler_apply_failures WHERE service = $1 ORDER BY first_failed_at, table_name, key`,
        [service],
      )
      .then((r) => r.rows),
  );
}

/** Why a writer switch must wait, naming the dead letters; undefined when there are none. */
export async function deadLetterRefusal(db: pg.Pool, service: string): Promise<string | undefined> {
  const letters = await listDeadLetters(db, service);
  if (!letters.length) return undefined;
  const shown = letters.slice(0, 5).map((l) => `#${l.id} ${describeChange(l)}`);
  if (letters.length > 5) shown.push(`and ${letters.length - 5} more`);
  return (
    `${service} has ${letters.length} dead letter${letters.length === 1 ? '' : 's'} (changes the other side refused; the sides differ until each is handled): ${shown.join('; ')}. ` +
    `See \`strangler data dead-letters ${service}\`, then fix the row and --retry ID, or --resolve ID --reason "…"`
  );
}

/**
 * Puts dead letters back into the outbox of the side they came from, parents first, so the next
 * drain applies them again (from a clean failure count); each is logged as `retried` by `actor`.
 * Into the outbox first, then out of the dead letters: a crash between leaves both, which is harmless.
 */
export async function requeueDeadLetters(data: ServiceData, which: number | 'all', actor: string): Promise<DeadLetter[]> {
  const service = data.mapping.service;
  const all = await listDeadLetters(data.pools.service, service);
  const chosen = which === 'all' ? all : all.filter((l) => l.id === which);
  if (which !== 'all' && !chosen.length)
    throw new DeadLetterNotFoundError(`${service} has no dead letter #${which} (see \`strangler data dead-letters ${service}\`)`);
  const order = (l: DeadLetter): number => data.mapping.tables.findIndex((t) => tableOn(t, l.side) === l.table);
  chosen.sort((a, b) => order(a) - order(b) || a.id - b.id);
  for (const l of chosen) {
    await requeue(data.pools[l.side], l.table, l.key);
    await drop(data.pools.service, service, l.id, 'retried', actor, 'put back into the outbox');
  }
  return chosen;
}

/** Drops a dead letter an operator has handled by hand, logging who and why. */
export async function resolveDeadLetter(db: pg.Pool, service: string, id: number, actor: string, reason: string): Promise<DeadLetter> {
  const letter = await drop(db, service, id, 'resolved', actor, reason);
  if (!letter) throw new DeadLetterNotFoundError(`${service} has no dead letter #${id} (see \`strangler data dead-letters ${service}\`)`);
  return letter;
}

async function drop(
  db: pg.Pool,
  service: string,
  id: number,
  action: 'retried' | 'resolved',
  actor: string,
  reason: string,
): Promise<DeadLetter | undefined> {
  const { rows } = await db.query<DeadLetter>(
    `WITH gone AS (DELETE FROM strangler_dead_letters WHERE service = $1 AND id = $2 RETURNING *),
     logged AS (
       INSERT INTO strangler_dead_letter_log (dead_letter_id, service, side, table_name, key, attempts, error_code, error_message, action, actor, reason)
       SELECT id, service, side, table_name, key, attempts, error_code, error_message, $3, $4, $5 FROM gone)
     SELECT ${LETTER_COLUMNS} FROM gone`,
    [service, id, action, actor, reason],
  );
  return rows[0];
}
