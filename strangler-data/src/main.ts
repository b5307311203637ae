// The replicator's process entry (also the `sync` container's command): `node strangler-data/src/main.ts`.
// Everything comes from the environment: DATA_MAPPING, MONOLITH_DATABASE_URL and each <SERVICE>_DATABASE_URL
// (passwords in *_DATABASE_PASSWORD), SYNC_HOST, SYNC_PORT, SYNC_INTERVAL_MS, SYNC_ALIGN_TO, LOG_LEVEL.
import { ConfigError, envReader } from '@strangler/service-kit/env';
import { createLogger } from '@strangler/service-kit/logger';
import { DataUsageError } from './data-config.ts';
import { runReplicator } from './run-replicator.ts';

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const read = envReader(env);
  try {
    await runReplicator({
      services: [],
      mappingFile: env.DATA_MAPPING,
      port: read.int('SYNC_PORT', 8082, 0, 65535),
      host: read.string('SYNC_HOST', '127.0.0.1'),
      intervalMs: read.int('SYNC_INTERVAL_MS', 100, 1, 60_000),
      alignTo: read.optional('SYNC_ALIGN_TO'),
      log: createLogger('strangler-sync', read.string('LOG_LEVEL', 'info')),
      env,
    });
  } catch (err) {
    if (!(err instanceof DataUsageError || err instanceof ConfigError)) throw err;
    console.error(`strangler-sync: ${err.message}`);
    process.exit(2);
  }
}

if (import.meta.main) await main();
