import pg from 'pg';
import { afterAll, expect, inject, it } from 'vitest';
import { startAuthService } from '@strangler/auth';
import { startListingsService } from '@strangler/listings';
import { startMonolith } from '@strangler/monolith';
import { startOrdersService } from '@strangler/orders';
import { createLogger, DEFAULT_LOGIN_THROTTLE, type RunningApp } from '@strangler/service-kit';
import { createScratchDatabase, type ScratchDatabase } from '@strangler/stack';
import type {} from '@strangler/stack/testing/provided-context';
import { openSyncPool } from '@strangler/data';
import { PostgresShadowStore } from '@strangler/proxy';
import { describeNeeds } from '../src/contract-targets.ts';

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
});

async function scratch(name: string): Promise<ScratchDatabase> {
  const db = await createScratchDatabase(inject('pgServerUrl'), name);
  closers.push(() => db.drop());
  return db;
}

/** The names PostgreSQL shows for the sessions open on `url`'s database, seen from another session. */
async function namesOn(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ name: string }>(
      'SELECT DISTINCT application_name AS name FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY 1',
    );
    return rows.map((r) => r.name);
  } finally {
    await c.end();
  }
}

const ownName = async (app: RunningApp): Promise<string> =>
  (await app.db.query<{ name: string }>('SELECT application_name AS name FROM pg_stat_activity WHERE pid = pg_backend_pid()')).rows[0]!
    .name;

describeNeeds(['own-system'], 'who is connected', () => {
  it('when each app connects its pool, then PostgreSQL shows its own name (monolith, auth, listings, orders), not one name for all', async () => {
    const common = {
      port: 0,
      host: '127.0.0.1',
      sessionSecrets: ['application-names-test-secret-32-chars!!'],
      shutdownGraceMs: 1000,
      logLevel: 'silent',
      redisUrl: undefined,
      loginThrottle: DEFAULT_LOGIN_THROTTLE,
    };
    const log = createLogger('test', 'silent');
    const apps: Record<string, RunningApp> = {
      monolith: await startMonolith(
        {
          ...common,
          databaseUrl: (await scratch('names_monolith')).url,
          secureCookies: false,
          seedWhenEmpty: false,
          apiBaseUrl: undefined,
        },
        log,
      ),
      auth: await startAuthService({ ...common, databaseUrl: (await scratch('names_auth')).url, secureCookies: false }, log),
      listings: await startListingsService({ ...common, databaseUrl: (await scratch('names_listings')).url }, log),
      orders: await startOrdersService(
        { ...common, databaseUrl: (await scratch('names_orders')).url, apiBaseUrl: 'http://127.0.0.1:9' },
        log,
      ),
    };
    for (const app of Object.values(apps)) closers.push(() => app.close());
    const seen: Record<string, string> = {};
    for (const [name, app] of Object.entries(apps)) seen[name] = await ownName(app);
    expect(seen).toEqual({ monolith: 'monolith', auth: 'auth', listings: 'listings', orders: 'orders' });
  });

  it('when the proxy’s shadow store and the data toolkit connect, then PostgreSQL shows strangler-proxy and strangler-sync', async () => {
    const shadowDb = await scratch('names_shadow');
    const store = await PostgresShadowStore.open(shadowDb.url);
    closers.push(() => store.close());
    expect(await namesOn(shadowDb.url)).toEqual(['strangler-proxy']);
    const syncDb = await scratch('names_sync');
    const pool = openSyncPool(syncDb.url);
    closers.push(() => pool.end());
    await pool.query('SELECT 1');
    expect(await namesOn(syncDb.url)).toEqual(['strangler-sync']);
  });
});
