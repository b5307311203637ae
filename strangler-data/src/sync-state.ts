import type pg from 'pg';
import { DEAD_LETTER_SCHEMA } from './dead-letters.ts';
import type { Side } from './table-mapping.ts';
import { inTransaction } from './transaction.ts';

/**
 * Which side writes a service's rows, and what has been copied so far. Kept in the service's own
 * database (it outlives the monolith), one row per service.
 */
export interface SyncState {
  service: string;
  /** The side whose routes take the writes; its changes flow to the other side. */
  writer: Side;
  /** When the backfill last completed (null: never). */
  backfilledAt: string | null;
  /** Changes applied on the other side, since the state was created. */
  applied: number;
  /** Changes captured on the side that was not the writer (a request that outlived a switch), applied all the same. */
  strays: number;
  lastAppliedAt: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS strangler_sync_state (
  service         text PRIMARY KEY,
  writer          text NOT NULL DEFAULT 'monolith' CHECK (writer IN ('monolith', 'service')),
  backfilled_at   timestamptz,
  applied         bigint NOT NULL DEFAULT 0,
  strays          bigint NOT NULL DEFAULT 0,
  last_applied_at timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Every writer switch, as an audit trail: who, when, why, from → to, the route table it produced.
CREATE TABLE IF NOT EXISTS strangler_switches (
  id           bigserial PRIMARY KEY,
  service      text NOT NULL,
  from_writer  text NOT NULL,
  to_writer    text NOT NULL,
  actor        text NOT NULL,
  reason       text NOT NULL,
  outcome      text NOT NULL CHECK (outcome IN ('switched', 'aborted')),
  failed_step  text,
  error        text,
  steps        jsonb NOT NULL,
  frozen_ms    integer,
  routes_hash  text,
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz NOT NULL
);`;

const COLUMNS = `service, writer, backfilled_at::text AS "backfilledAt", applied, strays, last_applied_at::text AS "lastAppliedAt"`;

/** Creates the state tables and the service's row (the monolith writes until a switch says otherwise). */
export async function ensureSyncState(db: pg.Pool, service: string): Promise<SyncState> {
  await inTransaction(db, async (client) => {
    // Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog: serialise them.
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('strangler-sync-state'))`);
    await client.query(SCHEMA);
    await client.query(DEAD_LETTER_SCHEMA);
  });
  await db.query('INSERT INTO strangler_sync_state (service) VALUES ($1) ON CONFLICT DO NOTHING', [service]);
  return readSyncState(db, service);
}

export async function readSyncState(db: pg.Pool | pg.PoolClient, service: string): Promise<SyncState> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM strangler_sync_state WHERE service = $1`, [service]);
  if (!rows[0]) throw new Error(`no sync state for ${service}: run \`strangler data backfill ${service}\` first`);
  return { ...rows[0], applied: Number(rows[0].applied), strays: Number(rows[0].strays) } as SyncState;
}

export async function setWriter(db: pg.Pool | pg.PoolClient, service: string, writer: Side): Promise<void> {
  await db.query('UPDATE strangler_sync_state SET writer = $2, updated_at = now() WHERE service = $1', [service, writer]);
}

export async function markBackfilled(db: pg.Pool, service: string): Promise<void> {
  await db.query('UPDATE strangler_sync_state SET backfilled_at = now(), updated_at = now() WHERE service = $1', [service]);
}

export async function countApplied(db: pg.Pool | pg.PoolClient, service: string, applied: number, strays: number): Promise<void> {
  await db.query(
    'UPDATE strangler_sync_state SET applied = applied + $2, strays = strays + $3, last_applied_at = now(), updated_at = now() WHERE service = $1',
    [service, applied, strays],
  );
}

/** One recorded switch. */
export interface SwitchRecord {
  service: string;
  from: Side;
  to: Side;
  actor: string;
  reason: string;
  outcome: 'switched' | 'aborted';
  failedStep?: string | undefined;
  error?: string | undefined;
  steps: { step: string; ms: number; ok: boolean; detail?: string }[];
  frozenMs?: number | undefined;
  routesHash?: string | undefined;
  startedAt: Date;
  finishedAt: Date;
}

export async function recordSwitch(db: pg.Pool, r: SwitchRecord): Promise<void> {
  await db.query(
    `INSERT INTO strangler_switches (service, from_writer, to_writer, actor, reason, outcome, failed_step, error, steps, frozen_ms, routes_hash, started_at, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      r.service,
      r.from,
      r.to,
      r.actor,
      r.reason,
      r.outcome,
      r.failedStep ?? null,
      r.error ?? null,
      JSON.stringify(r.steps),
      r.frozenMs ?? null,
      r.routesHash ?? null,
      r.startedAt,
      r.finishedAt,
    ],
  );
}

export async function lastSwitches(
  db: pg.Pool,
  service: string,
  limit = 5,
): Promise<(Omit<SwitchRecord, 'steps' | 'startedAt' | 'finishedAt'> & { finishedAt: string })[]> {
  const { rows } = await db.query(
    `SELECT service, from_writer AS "from", to_writer AS "to", actor, reason, outcome, failed_step AS "failedStep", error, frozen_ms AS "frozenMs",
       routes_hash AS "routesHash", finished_at::text AS "finishedAt"
     FROM strangler_switches WHERE service = $1 ORDER BY id DESC LIMIT $2`,
    [service, limit],
  );
  return rows;
}
