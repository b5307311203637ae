import { inject } from 'vitest';
import { MIGRATIONS_DIR as AUTH_MIGRATIONS } from '@strangler/auth';
import { loadDataMapping } from '@strangler/data';
import { openSides, type ServiceDatabases } from '@strangler/data/testing';
import { MIGRATIONS_DIR as LISTINGS_MIGRATIONS } from '@strangler/listings';
import { MIGRATIONS_DIR as MONOLITH_MIGRATIONS, seedIfEmpty } from '@strangler/monolith';
import { MIGRATIONS_DIR as ORDERS_MIGRATIONS } from '@strangler/orders';
import { DATA_MAPPING_FILE, type ServiceName } from '@strangler/reference-migration';
import { createDatabase, migrate } from '@strangler/service-kit';
import { createScratchDatabase } from '@strangler/stack';
import type {} from '@strangler/stack/testing/provided-context';

export { count, type ServiceDatabases } from '@strangler/data/testing';

const SERVICE_MIGRATIONS: Record<ServiceName, string> = { auth: AUTH_MIGRATIONS, listings: LISTINGS_MIGRATIONS, orders: ORDERS_MIGRATIONS };

/**
 * A seeded monolith database and an empty database for `service`, each migrated by the app's own
 * migrations, mapped by the reference migration's data mapping file (`DATA_MAPPING_FILE`).
 */
export async function serviceDatabases(service: ServiceName, opts: { seed?: boolean } = {}): Promise<ServiceDatabases> {
  const server = inject('pgServerUrl');
  const [m, s] = [await createScratchDatabase(server, 'data_monolith'), await createScratchDatabase(server, `data_${service}`)];
  for (const [url, dir] of [
    [m.url, MONOLITH_MIGRATIONS],
    [s.url, SERVICE_MIGRATIONS[service]],
  ] as const) {
    const db = createDatabase({ connectionString: url, applicationName: 'test-setup' });
    await migrate(db, dir);
    if (dir === MONOLITH_MIGRATIONS && opts.seed !== false) await seedIfEmpty(db);
    await db.close();
  }
  return openSides(m, s, loadDataMapping(DATA_MAPPING_FILE).for(service));
}
