import type pg from 'pg';
import { installCapture, pendingChanges, readOutbox, removeFromOutbox, type Pending } from './capture.ts';
import { deleteKeys, fetchRows, upsertRows, type Key, type TextRow } from './row-transfer.ts';
import { inCopyTransaction } from './transaction.ts';
import { countApplied, ensureSyncState, readSyncState, type SyncState } from './sync-state.ts';
import { otherSide, SIDES, tableOn, type ServiceDataMapping, type Side, type TableMapping } from './table-mapping.ts';

/** A service's rows on both sides: the mapping and a pool for each database. */
export interface ServiceData {
  mapping: ServiceDataMapping;
  pools: Record<Side, pg.Pool>;
}

export const tablesOn = (data: ServiceData, side: Side): string[] => data.mapping.tables.map((t) => tableOn(t, side));

/** Installs capture on both sides and the sync state; returns the state. Idempotent. */
export async function prepareSync(data: ServiceData): Promise<SyncState> {
  await installCapture(data.pools.monolith, data.mapping, 'monolith');
  await installCapture(data.pools.service, data.mapping, 'service');
  return ensureSyncState(data.pools.service, data.mapping.service);
}

/**
 * Runs `fn` holding the service's sync lock (a session advisory lock in its database). Whoever
 * copies changes holds it, so two copiers never interleave: one reading a row before another's
 * newer copy lands could otherwise overwrite it with the older value.
 */
export async function withSyncLock<T>(data: ServiceData, fn: () => Promise<T>): Promise<T> {
  const client = await data.pools.service.connect();
  const args = [data.mapping.service];
  try {
    await client.query(`SELECT pg_advisory_lock(hashtext('strangler-sync'), hashtext($1))`, args);
    try {
      return await fn();
    } finally {
      await client.query(`SELECT pg_advisory_unlock(hashtext('strangler-sync'), hashtext($1))`, args);
    }
  } finally {
    client.release();
  }
}

/**
 * Applies up to `batchSize` changes captured on `from` to the other side; returns how many. Call it
 * under `withSyncLock`. The rows are read after the changes are, so each copy is at least as new as
 * its change; they are written in one transaction of the other side (parents before children,
 * deletes children first), and only then removed from the outbox. A crash between the two re-applies
 * the batch on the next run, which changes nothing: the outbox itself is the checkpoint.
 */
export async function applyBatch(data: ServiceData, from: Side, batchSize = 500): Promise<number> {
  const to = otherSide(from);
  const entries = await readOutbox(data.pools[from], tablesOn(data, from), batchSize);
  if (!entries.length) return 0;
  const keysByTable = new Map<string, Map<string, Key>>();
  for (const e of entries) {
    let keys = keysByTable.get(e.table);
    if (!keys) keysByTable.set(e.table, (keys = new Map()));
    keys.set(JSON.stringify(e.key), e.key);
  }
  const changes: { t: TableMapping; present: TextRow[]; absent: Key[] }[] = [];
  for (const t of data.mapping.tables) {
    const keys = keysByTable.get(tableOn(t, from));
    if (keys) changes.push({ t, ...(await fetchRows(data.pools[from], t, from, [...keys.values()])) });
  }
  await inCopyTransaction(data.pools[to], async (client) => {
    for (const c of changes) await upsertRows(client, c.t, to, c.present);
    for (const c of [...changes].reverse()) await deleteKeys(client, c.t, to, c.absent);
  });
  await removeFromOutbox(
    data.pools[from],
    entries.map((e) => e.id),
  );
  return entries.length;
}

export interface DrainResult {
  /** Changes applied from the writer's side, and from the other side (strays). */
  applied: number;
  strays: number;
}

/**
 * Applies every pending change of both sides, the writer's first, until none is left or `deadline`
 * (epoch ms) passes; holds the sync lock throughout. Changes found on the side that is not the
 * writer are strays (a write that reached it after a switch): they are applied too, and counted,
 * because dropping a committed write would lose it.
 */
export function drain(data: ServiceData, opts: DrainOptions = {}): Promise<DrainResult & { state: SyncState; done: boolean }> {
  return withSyncLock(data, async () => {
    const state = await readSyncState(data.pools.service, data.mapping.service);
    return { ...(await drainHoldingLock(data, state.writer, opts)), state };
  });
}

export interface DrainOptions {
  batchSize?: number;
  /** Stop after this time (epoch ms), done or not. */
  deadline?: number;
  /** Stop after this many rounds of one batch per side. */
  maxBatches?: number;
}

/** `drain` for a caller that already holds the sync lock (a writer switch, between its last drain and the switch). */
export async function drainHoldingLock(data: ServiceData, writer: Side, opts: DrainOptions = {}): Promise<DrainResult & { done: boolean }> {
  const result = { applied: 0, strays: 0 };
  let batches = opts.maxBatches ?? Infinity;
  let done = false;
  for (;;) {
    let round = 0;
    for (const side of [writer, otherSide(writer)]) {
      const n = await applyBatch(data, side, opts.batchSize);
      round += n;
      if (side === writer) result.applied += n;
      else result.strays += n;
    }
    if (round === 0) {
      done = true;
      break;
    }
    if (--batches <= 0 || (opts.deadline !== undefined && Date.now() > opts.deadline)) break;
  }
  if (result.applied || result.strays) await countApplied(data.pools.service, data.mapping.service, result.applied, result.strays);
  return { ...result, done };
}

/** What is waiting on each side. */
export async function pendingBySide(data: ServiceData): Promise<Record<Side, Pending>> {
  const [monolith, service] = await Promise.all(SIDES.map((side) => pendingChanges(data.pools[side], tablesOn(data, side))));
  return { monolith: monolith!, service: service! };
}
