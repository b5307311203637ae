import type { Pending } from './capture.ts';
import { listDeadLetters, listFailing, type DeadLetter, type FailingChange } from './dead-letters.ts';
import { pendingBySide, type ServiceData } from './replicate.ts';
import { lastSwitches, readSyncState, type SyncState } from './sync-state.ts';
import type { Side } from './table-mapping.ts';

export interface SyncStatus extends SyncState {
  /** Changes waiting on each side. */
  pending: Record<Side, Pending>;
  /** Age of the oldest change not yet applied (0: the sides are in step). */
  lagSeconds: number;
  recentSwitches: Awaited<ReturnType<typeof lastSwitches>>;
  /** Changes the other side refused and that are still retried. */
  failing: FailingChange[];
  /** Changes set aside for an operator (`strangler data dead-letters`); a writer switch waits for none. */
  deadLetters: DeadLetter[];
}

/** Where a service's data stands: who writes, what is waiting, the last switches, what was refused. */
export async function syncStatus(data: ServiceData): Promise<SyncStatus> {
  const [state, pending, recentSwitches, failing, deadLetters] = await Promise.all([
    readSyncState(data.pools.service, data.mapping.service),
    pendingBySide(data),
    lastSwitches(data.pools.service, data.mapping.service, 3),
    listFailing(data.pools.service, data.mapping.service),
    listDeadLetters(data.pools.service, data.mapping.service),
  ]);
  return {
    ...state,
    pending,
    lagSeconds: Math.max(pending.monolith.oldestSeconds, pending.service.oldestSeconds),
    recentSwitches,
    failing,
    deadLetters,
  };
}
