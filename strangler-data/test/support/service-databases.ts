import { inject } from 'vitest';
import { MIGRATIONS_DIR as AUTH_MIGRATIONS } from '@strangler/auth';
import { MIGRATIONS_DIR as LISTINGS_MIGRATIONS } from '@strangler/listings';
import { MIGRATIONS_DIR as MONOLITH_MIGRATIONS, seedIfEmpty } from '@strangler/monolith';
import { createDatabase, migrate } from '@strangler/service-kit';
import { DATA_MAPPING_FILE } from '@strangler/reference-migration';
import { createScratchDatabase } from '@strangler/stack';
import type {} from '@strangler/stack/testing/provided-context';
import { loadDataMapping } from '../../src/load-data-mapping.ts';
import { openSides, type ServiceDatabases } from './sides.ts';

export { count, type ServiceDatabases } from './sides.ts';

const SERVICE_MIGRATIONS: Record<string, string> = { listings: LISTINGS_MIGRATIONS, auth: AUTH_MIGRATIONS };

/** The reference migration's mapping file: what these databases' schemas are (the CLI reads it from DATA_MAPPING). */
export const DATA_MAPPING = DATA_MAPPING_FILE;

/** A seeded monolith database and an empty, migrated database for `service`, on the run's server. */
export async function serviceDatabases(service: string, opts: { seed?: boolean } = {}): Promise<ServiceDatabases> {
  const server = inject('pgServerUrl');
  const [m, s] = [await createScratchDatabase(server, `data_monolith`), await createScratchDatabase(server, `data_${service}`)];
  for (const [url, dir] of [
    [m.url, MONOLITH_MIGRATIONS],
    [s.url, SERVICE_MIGRATIONS[service]!],
  ] as const) {
    const db = createDatabase({ connectionString: url, applicationName: 'test-setup' });
    await migrate(db, dir);
    if (dir === MONOLITH_MIGRATIONS && opts.seed !== false) await seedIfEmpty(db);
    await db.close();
  }
  return openSides(m, s, loadDataMapping(DATA_MAPPING).for(service));
}
