export { backfill, BackfillRefusedError } from './backfill.ts';
export {
  closeService,
  configuredServices,
  DataUsageError,
  loadMappingFile,
  openService,
  readRoutesFile,
  serviceDatabaseVariable,
} from './data-config.ts';
export {
  DeadLetterNotFoundError,
  describeChange,
  listDeadLetters,
  listFailing,
  requeueDeadLetters,
  resolveDeadLetter,
  type DeadLetter,
  type FailingChange,
} from './dead-letters.ts';
export { DataMappingError, loadDataMapping, parseDataMapping } from './load-data-mapping.ts';
export { drain, pendingBySide, prepareSync, type ServiceData } from './replicate.ts';
export { Replicator } from './replicator.ts';
export { showKey } from './row-transfer.ts';
export { runReplicator, type ReplicatorOptions } from './run-replicator.ts';
export { alignWriter, setWriterOffline, switchWriter, SWITCH_STEPS, type SwitchResult, type SwitchStep } from './switch-writer.ts';
export { openSyncPool } from './sync-pool.ts';
export { startSyncServer, type RunningSync } from './sync-server.ts';
export { syncStatus, type SyncStatus } from './sync-status.ts';
export { DataMappings, UnknownServiceError, type ServiceDataMapping, type Side } from './table-mapping.ts';
export { verify, type TableVerdict } from './verify.ts';
