import type { Pending } from './capture.ts';
import { pendingBySide, type ServiceData } from './replicate.ts';
import { lastSwitches, readSyncState, type SyncState } from './sync-state.ts';
import type { Side } from './table-mapping.ts';

export interface SyncStatus extends SyncState {
  /** Changes waiting on each side. */
  pending: Record<Side, Pending>;
  /** Age of the oldest change not yet applied (0: the sides are in step). */
  lagSeconds: number;
  recentSwitches: Awaited<ReturnType<typeof lastSwitches>>;
}

/** Where a service's data stands: who writes, what is waiting, the last switches. */
export async function syncStatus(data: ServiceData): Promise<SyncStatus> {
  const [state, pending, recentSwitches] = await Promise.all([
    readSyncState(data.pools.service, data.mapping.service),
    pendingBySide(data),
    lastSwitches(data.pools.service, data.mapping.service, 3),
  ]);
  return { ...state, pending, lagSeconds: Math.max(pending.monolith.oldestSeconds, pending.service.oldestSeconds), recentSwitches };
}
