import type { Logger } from 'pino';
import { exitOnSignals } from '@strangler/service-kit/exit-on-signals';
import { closeService, configuredServices, DataUsageError, loadMappingFile, openService, readRoutesFile } from './data-config.ts';
import { alignWriter } from './switch-writer.ts';
import { startSyncServer, type RunningSync } from './sync-server.ts';

export interface ReplicatorOptions {
  /** The services to keep in step; none: every mapped service whose database URL is set. */
  services: readonly string[];
  /** The data mapping file. */
  mappingFile: string | undefined;
  monolithDb?: string | undefined;
  /** One service's database: only with one service. */
  serviceDb?: string | undefined;
  port: number;
  host: string;
  intervalMs: number;
  /**
   * A route table: before the first round, while nothing serves the routes yet, backfill each
   * service never backfilled and make each group's mode in it the writer.
   */
  alignTo?: string | undefined;
  log: Logger;
  env?: NodeJS.ProcessEnv;
}

/**
 * The replicator as a long-running process (the `sync` container, `strangler data sync`): the
 * databases opened, writers aligned when asked, the sync server listening; SIGTERM/SIGINT close it.
 * Problems of the caller's making throw `DataUsageError` before anything is started.
 */
export async function runReplicator(o: ReplicatorOptions): Promise<RunningSync> {
  const env = o.env ?? process.env;
  const mappings = loadMappingFile(o.mappingFile);
  const names = o.services.length ? [...o.services] : configuredServices(mappings, env);
  if (!names.length)
    throw new DataUsageError(`name the services to keep in step (${mappings.services.join(', ')}) or set <SERVICE>_DATABASE_URL`);
  if (names.length > 1 && o.serviceDb)
    throw new DataUsageError('--service-db names one database: give one service, or set <SERVICE>_DATABASE_URL for each');
  const routes = o.alignTo === undefined ? undefined : readRoutesFile(o.alignTo);
  const all = names.map((s) => openService(s, mappings, { monolithDb: o.monolithDb, serviceDb: o.serviceDb }, env));
  if (routes !== undefined) {
    for (const d of all) {
      const r = await alignWriter(d, routes);
      o.log.info({ rowsOf: d.mapping.service, ...r }, 'data aligned with the route table');
    }
  }
  const running = await startSyncServer(all, { port: o.port, host: o.host, intervalMs: o.intervalMs, log: o.log });
  o.log.info({ url: running.url, services: names }, 'replicator running');
  exitOnSignals(o.log, async () => {
    await running.close();
    await Promise.all(all.map(closeService));
  });
  return running;
}
