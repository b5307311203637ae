import type pg from 'pg';
import { installCapture, pendingChanges, readOutbox, removeFromOutbox, type Pending } from './capture.ts';
import {
  DEAD_LETTER_POLICY,
  forgetApplied,
  hasOpenFailures,
  isRowRefusal,
  recordRefusals,
  refusalOf,
  type DeadLetter,
  type DeadLetterPolicy,
  type FailingChange,
  type Refusal,
} from './dead-letters.ts';
import { deleteKeys, fetchRows, upsertRows, type Key, type TextRow } from './row-transfer.ts';
import { inCopyTransaction, withClient } from './transaction.ts';
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
export function withSyncLock<T>(data: ServiceData, fn: () => Promise<T>): Promise<T> {
  const args = [data.mapping.service];
  // The session sits idle while `fn` runs; a session whose unlock failed may still hold the lock,
  // so it is marked broken: destroyed, never handed to another caller.
  return withClient(data.pools.service, async (client, markBroken) => {
    await client.query(`SELECT pg_advisory_lock(hashtext('strangler-sync'), hashtext($1))`, args);
    try {
      return await fn();
    } finally {
      await client.query(`SELECT pg_advisory_unlock(hashtext('strangler-sync'), hashtext($1))`, args).catch((err: unknown) => {
        throw markBroken(err);
      });
    }
  });
}

/**
 * What one drain pass has learnt about changes the other side refused: they are skipped for the
 * rest of the pass (each counts one failed attempt per pass), unless something else lands after
 * them — their parent, say — when they are tried once more.
 */
export class DrainPass {
  readonly policy: DeadLetterPolicy;
  /** Outbox ids, each side's own, not read again in this pass. */
  readonly skip: Record<Side, number[]> = { monolith: [], service: [] };
  /** Refused changes still failing, by side, table and key, with their outbox ids. */
  readonly failing = new Map<string, { change: FailingChange; ids: number[] }>();
  /** Changes whose failure this pass has counted already. */
  readonly counted = new Set<string>();
  readonly deadLettered: DeadLetter[] = [];
  /** Something was applied after the last refusal. */
  progressed = false;
  /** Whether the service has failing changes or dead letters (undefined: not looked yet); only the drain holding the sync lock adds any. */
  open: boolean | undefined;

  constructor(policy: DeadLetterPolicy = DEAD_LETTER_POLICY) {
    this.policy = policy;
  }
}

interface Change {
  t: TableMapping;
  /** The table's name on the side the change comes from. */
  table: string;
  present: TextRow[];
  presentKeys: Key[];
  absent: Key[];
}

/**
 * Applies up to `batchSize` changes captured on `from` to the other side; returns how many left the
 * outbox (applied, or set aside as dead letters). Call it under `withSyncLock`. The rows are read
 * after the changes are, so each copy is at least as new as its change; they are written in one
 * transaction of the other side (parents before children, deletes children first), and only then
 * removed from the outbox. A crash between the two re-applies the batch on the next run, which
 * changes nothing: the outbox itself is the checkpoint. When the other side refuses a row (a
 * secondary unique key, a missing parent, a bad value), the batch is applied again change by change,
 * each behind a savepoint, so the others commit; the refused ones stay in the outbox and are counted
 * until the pass's policy makes them dead letters (`dead-letters.ts`).
 */
export async function applyBatch(data: ServiceData, from: Side, batchSize = 500, pass = new DrainPass()): Promise<number> {
  return (await applyChanges(data, from, batchSize, pass)).removed;
}

/** One batch: how many changes it read, applied, and took out of the outbox (applied or dead-lettered). */
async function applyChanges(
  data: ServiceData,
  from: Side,
  batchSize: number,
  pass: DrainPass,
): Promise<{ read: number; applied: number; removed: number }> {
  const to = otherSide(from);
  const entries = await readOutbox(data.pools[from], tablesOn(data, from), batchSize, pass.skip[from]);
  if (!entries.length) return { read: 0, applied: 0, removed: 0 };
  const id = (table: string, key: Key): string => JSON.stringify([from, table, key]);
  const keysByTable = new Map<string, Map<string, Key>>();
  for (const e of entries) {
    let keys = keysByTable.get(e.table);
    if (!keys) keysByTable.set(e.table, (keys = new Map()));
    keys.set(JSON.stringify(e.key), e.key);
  }
  const changes: Change[] = [];
  for (const t of data.mapping.tables) {
    const keys = keysByTable.get(tableOn(t, from));
    if (keys) changes.push({ t, table: tableOn(t, from), ...(await fetchRows(data.pools[from], t, from, [...keys.values()])) });
  }
  let refused = new Map<string, Refusal>();
  try {
    await inCopyTransaction(data.pools[to], async (client) => {
      for (const c of changes) await upsertRows(client, c.t, to, c.present);
      for (const c of [...changes].reverse()) await deleteKeys(client, c.t, to, c.absent);
    });
  } catch (err) {
    if (!isRowRefusal(err)) throw err;
    refused = await applyOneByOne(data.pools[to], to, changes, id);
  }

  const service = data.mapping.service;
  const removed: number[] = [];
  for (const e of entries) if (!refused.has(id(e.table, e.key))) removed.push(e.id);
  const applied = removed.length;
  if (refused.size) {
    const list = [...refused].map(([k, r]) => {
      const [, table, key] = JSON.parse(k) as [Side, string, Key];
      return { ...r, table, key, counts: !pass.counted.has(k) };
    });
    pass.open = true;
    const { failing, dead } = await recordRefusals(data.pools.service, service, from, list, pass.policy);
    const idsOf = (k: string): number[] => [
      ...(pass.failing.get(k)?.ids ?? []),
      ...entries.filter((e) => id(e.table, e.key) === k).map((e) => e.id),
    ];
    for (const k of refused.keys()) pass.counted.add(k);
    for (const f of failing) {
      const k = id(f.table, f.key);
      pass.failing.set(k, { change: f, ids: idsOf(k) });
      pass.skip[from].push(...entries.filter((e) => id(e.table, e.key) === k).map((e) => e.id));
    }
    for (const l of dead) {
      const k = id(l.table, l.key);
      removed.push(...idsOf(k));
      pass.failing.delete(k);
      pass.deadLettered.push(l);
    }
    pass.progressed = false;
  } else pass.progressed = true;
  const done = changes
    .flatMap((c) => [...c.presentKeys, ...c.absent].map((key) => ({ table: c.table, key })))
    .filter((c) => !refused.has(id(c.table, c.key)));
  for (const c of done) pass.failing.delete(id(c.table, c.key));
  pass.open ??= await hasOpenFailures(data.pools.service, service);
  if (pass.open) await forgetApplied(data.pools.service, service, from, done);
  await removeFromOutbox(data.pools[from], removed);
  return { read: entries.length, applied, removed: removed.length };
}

/** The batch again, one change per savepoint: what the other side refuses is rolled back alone, the rest commits. */
async function applyOneByOne(
  pool: pg.Pool,
  to: Side,
  changes: readonly Change[],
  id: (table: string, key: Key) => string,
): Promise<Map<string, Refusal>> {
  const refused = new Map<string, Refusal>();
  await inCopyTransaction(pool, async (client) => {
    // A deferred constraint would fail at COMMIT, past every savepoint: check each where it is written.
    await client.query('SET CONSTRAINTS ALL IMMEDIATE');
    const one = async (k: string, write: () => Promise<void>): Promise<void> => {
      await client.query('SAVEPOINT strangler_change');
      try {
        await write();
        await client.query('RELEASE SAVEPOINT strangler_change');
      } catch (err) {
        if (!isRowRefusal(err)) throw err;
        await client.query('ROLLBACK TO SAVEPOINT strangler_change');
        refused.set(k, refusalOf(err));
      }
    };
    for (const c of changes) {
      for (const [i, row] of c.present.entries()) await one(id(c.table, c.presentKeys[i]!), () => upsertRows(client, c.t, to, [row]));
    }
    for (const c of [...changes].reverse()) {
      for (const key of c.absent) await one(id(c.table, key), () => deleteKeys(client, c.t, to, [key]));
    }
  });
  return refused;
}

export interface DrainResult {
  /** Changes applied from the writer's side, and from the other side (strays). */
  applied: number;
  strays: number;
  /** Changes the other side refused in this pass and that are still retried (they stay in the outbox). */
  failing: FailingChange[];
  /** Changes set aside as dead letters in this pass. */
  deadLettered: DeadLetter[];
}

/**
 * Applies every pending change of both sides, the writer's first, until none is left or `deadline`
 * (epoch ms) passes; holds the sync lock throughout. Changes found on the side that is not the
 * writer are strays (a write that reached it after a switch): they are applied too, and counted,
 * because dropping a committed write would lose it. `done` is false while a refused change waits.
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
  /** When a change the other side keeps refusing becomes a dead letter (default: 3 passes, 10 s). */
  deadLetter?: DeadLetterPolicy;
}

/** `drain` for a caller that already holds the sync lock (a writer switch, between its last drain and the switch). */
export async function drainHoldingLock(data: ServiceData, writer: Side, opts: DrainOptions = {}): Promise<DrainResult & { done: boolean }> {
  const result = { applied: 0, strays: 0 };
  const pass = new DrainPass(opts.deadLetter);
  let batches = opts.maxBatches ?? Infinity;
  let done = false;
  for (;;) {
    let round = 0;
    for (const side of [writer, otherSide(writer)]) {
      const r = await applyChanges(data, side, opts.batchSize ?? 500, pass);
      // Read, not applied: behind a batch refused whole (and now skipped) more may wait.
      round += r.read;
      if (side === writer) result.applied += r.applied;
      else result.strays += r.applied;
    }
    if (round === 0) {
      // Refused before something else landed (its parent from the other side, say): once more.
      if (pass.progressed && pass.failing.size) {
        for (const side of SIDES) pass.skip[side].length = 0;
        pass.progressed = false;
        continue;
      }
      done = pass.failing.size === 0;
      break;
    }
    if (--batches <= 0 || (opts.deadline !== undefined && Date.now() > opts.deadline)) break;
  }
  if (result.applied || result.strays) await countApplied(data.pools.service, data.mapping.service, result.applied, result.strays);
  return { ...result, failing: [...pass.failing.values()].map((f) => f.change), deadLettered: pass.deadLettered, done };
}

/** What is waiting on each side. */
export async function pendingBySide(data: ServiceData): Promise<Record<Side, Pending>> {
  const [monolith, service] = await Promise.all(SIDES.map((side) => pendingChanges(data.pools[side], tablesOn(data, side))));
  return { monolith: monolith!, service: service! };
}
