import fs from 'node:fs';
import { withPassword } from '@strangler/service-kit/secret-url';
import { DataMappingError, loadDataMapping } from './load-data-mapping.ts';
import type { ServiceData } from './replicate.ts';
import { openSyncPool } from './sync-pool.ts';
import { UnknownServiceError, type DataMappings } from './table-mapping.ts';

/**
 * How the data toolkit was asked to run is wrong (no mapping, a database URL missing, an unknown
 * service): the caller's to fix, so the CLI and the replicator's process exit 2 with its message.
 */
export class DataUsageError extends Error {}

/** `CATALOG_DATABASE_URL` for `catalog`: where a service's database URL is read from when no flag gives it. */
export const serviceDatabaseVariable = (service: string): string => `${service.toUpperCase()}_DATABASE_URL`;

/** The data mapping file named by the caller (a flag, else `DATA_MAPPING`), validated. */
export function loadMappingFile(file: string | undefined): DataMappings {
  if (!file)
    throw new DataUsageError(
      'give --mapping FILE or set DATA_MAPPING: the data mapping naming the tables each service owns (see `strangler data check-mapping`)',
    );
  try {
    return loadDataMapping(file);
  } catch (err) {
    if (err instanceof DataMappingError) throw new DataUsageError(err.message);
    throw err;
  }
}

/** The mapped services whose database URL is in the environment. */
export function configuredServices(mappings: DataMappings, env: NodeJS.ProcessEnv = process.env): string[] {
  return mappings.services.filter((s) => env[serviceDatabaseVariable(s)]);
}

/**
 * Both databases of a service, from the URLs given or the environment. URLs are never put into an
 * error: they hold passwords. A deployment keeps each password in a secret of its own
 * (`MONOLITH_DATABASE_PASSWORD`, …), joined to its URL here.
 */
export function openService(
  service: string,
  mappings: DataMappings,
  given: { monolithDb?: string | undefined; serviceDb?: string | undefined } = {},
  env: NodeJS.ProcessEnv = process.env,
): ServiceData {
  let mapping;
  try {
    mapping = mappings.for(service);
  } catch (err) {
    if (err instanceof UnknownServiceError) throw new DataUsageError(err.message);
    throw err;
  }
  const fromEnv = (variable: string): string | undefined => {
    const url = env[variable];
    return url ? withPassword(url, env[variable.replace(/_URL$/, '_PASSWORD')]) : undefined;
  };
  const monolith = given.monolithDb ?? fromEnv('MONOLITH_DATABASE_URL');
  const own = given.serviceDb ?? fromEnv(serviceDatabaseVariable(service));
  if (!monolith || !own)
    throw new DataUsageError(`give --monolith-db and --service-db (or MONOLITH_DATABASE_URL and ${serviceDatabaseVariable(service)})`);
  return { mapping, pools: { monolith: openSyncPool(monolith), service: openSyncPool(own) } };
}

export const closeService = (d: ServiceData): Promise<unknown> => Promise.all([d.pools.monolith.end(), d.pools.service.end()]);

/** A route table file's text, for aligning writers with it. */
export function readRoutesFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new DataUsageError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
