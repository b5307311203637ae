import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfill } from '../src/data/backfill.ts';
import { listFailing } from '../src/data/dead-letters.ts';
import { drain, pendingBySide } from '../src/data/replicate.ts';
import { startSyncServer } from '../src/data/sync-server.ts';
import { createLogger } from '../src/logger.ts';
import { runCli } from './support/run-cli.ts';
import { count, serviceDatabases, type ServiceDatabases } from './support/service-databases.ts';

let d: ServiceDatabases;
beforeAll(async () => {
  d = await serviceDatabases('listings');
  await backfill(d);
});
afterAll(() => d?.close());

const SUPPLIER = `INSERT INTO suppliers (owner_user_id, name, country, region) VALUES ($1, $2, 'Peru', 'Piura') RETURNING id::text AS id`;
const LISTING = `INSERT INTO listings (supplier_id, title, origin_country, origin_region, variety, grade, price_per_kg_cents, currency, stock_kg, min_order_kg, harvest_date)
  VALUES ($1, $2, 'Peru', 'Piura', 'criollo', 'A', 100, 'USD', 10, 1, '2026-01-01') RETURNING id::text AS id`;
/** A supplier only the monolith has: written with capture off, as if its change had been lost. */
const UNCAPTURED_SUPPLIER = (id: number): string => `BEGIN; SELECT set_config('strangler.applying', 'on', true);
  INSERT INTO suppliers (id, owner_user_id, name, country, region) VALUES (${id}, ${90000 + id}, 'Uncaptured', 'Peru', 'Piura'); COMMIT`;
/** Set aside at the third failed pass, however young: the tests need not wait out the default 10 s. */
const AT_ONCE = { attempts: 3, afterMs: 0 };

let onMonolith: string;
let onService: string;

describe('a change the other side refuses', () => {
  it('when one change violates a secondary unique key, then the other changes of the batch are still applied and replication keeps going', async () => {
    // One supplier account creates its supplier profile on both sides at once: two rows, two ids, one owner.
    onMonolith = (await d.pools.monolith.query(SUPPLIER, [90950, 'Profile made on the monolith'])).rows[0].id as string;
    onService = (await d.pools.service.query(SUPPLIER, [90950, 'Profile made on the service'])).rows[0].id as string;
    await d.pools.monolith.query('UPDATE listings SET stock_kg = 777 WHERE id IN (10, 11)');
    await d.pools.service.query(`UPDATE listings SET description = 'edited on the service' WHERE id = 12`);

    const r = await drain(d);
    expect(await count(d.pools.service, 'SELECT count(*) FROM listings WHERE id IN (10, 11) AND stock_kg = 777')).toBe(2);
    expect(await count(d.pools.monolith, `SELECT count(*) FROM listings WHERE id = 12 AND description = 'edited on the service'`)).toBe(1);
    // The two profiles stay where they were made, each waiting for an operator.
    expect(await count(d.pools.service, 'SELECT count(*) FROM suppliers WHERE id = $1', [onMonolith])).toBe(0);
    expect(await count(d.pools.monolith, 'SELECT count(*) FROM suppliers WHERE id = $1', [onService])).toBe(0);
    expect([r.applied, r.strays, r.done]).toEqual([2, 1, false]);
    expect(await pendingBySide(d)).toMatchObject({ monolith: { changes: 1 }, service: { changes: 1 } });

    // Later changes flow past the stuck ones.
    await d.pools.monolith.query('UPDATE listings SET stock_kg = 778 WHERE id = 13');
    await drain(d);
    expect(await count(d.pools.service, 'SELECT stock_kg FROM listings WHERE id = 13')).toBe(778);
  });

  it("when a refused change fails pass after pass, then the policy sets it aside as a dead letter: out of the outbox, its code and message kept, never the row's values", async () => {
    // Two passes so far (the drains above); set aside at the fourth failed pass in a row.
    const policy = { attempts: 4, afterMs: 0 };
    expect((await listFailing(d.pools.service, 'listings')).map((f) => [f.side, f.attempts])).toEqual([
      ['monolith', 2],
      ['service', 2],
    ]);
    const third = await drain(d, { deadLetter: policy });
    expect(third.failing.map((f) => [f.side, f.attempts])).toEqual([
      ['monolith', 3],
      ['service', 3],
    ]);
    expect([third.deadLettered, third.done]).toEqual([[], false]);
    const fourth = await drain(d, { deadLetter: policy });
    expect(fourth.deadLettered.map((l) => [l.side, l.table, l.key, l.code, l.message, l.attempts])).toEqual([
      ['monolith', 'suppliers', [onMonolith], '23505', 'duplicate key value violates unique constraint "suppliers_owner_user_id_key"', 4],
      ['service', 'suppliers', [onService], '23505', 'duplicate key value violates unique constraint "suppliers_owner_user_id_key"', 4],
    ]);
    expect([fourth.done, fourth.failing]).toEqual([true, []]);
    expect(await pendingBySide(d)).toMatchObject({ monolith: { changes: 0 }, service: { changes: 0 } });
    expect(await count(d.pools.service, 'SELECT count(*) FROM strangler_apply_failures')).toBe(0);
    const stored = JSON.stringify((await d.pools.service.query('SELECT * FROM strangler_dead_letters')).rows);
    expect(stored).not.toContain('90950');
    expect(stored).not.toContain('Profile made');
  });

  it('when a change waits for a parent that comes later in the outbox, then the same drain applies it once the parent has landed', async () => {
    await d.pools.monolith.query(UNCAPTURED_SUPPLIER(960));
    const listing = (await d.pools.monolith.query(LISTING, [960, 'Child before its parent'])).rows[0].id as string;
    await d.pools.monolith.query('UPDATE suppliers SET updated_at = now() WHERE id = 960');
    // One change per batch: the listing is refused before its supplier is even read.
    const r = await drain(d, { batchSize: 1, deadLetter: AT_ONCE });
    expect([r.done, r.failing, r.deadLettered]).toEqual([true, [], []]);
    expect(await count(d.pools.service, 'SELECT count(*) FROM listings WHERE id = $1', [listing])).toBe(1);
    expect(await count(d.pools.service, 'SELECT count(*) FROM strangler_apply_failures')).toBe(0);
  });

  it('when a parent has not arrived yet, then its child is retried pass after pass but not set aside before the policy\'s time, and it lands once the parent does', async () => {
    await d.pools.monolith.query(UNCAPTURED_SUPPLIER(961));
    const listing = (await d.pools.monolith.query(LISTING, [961, 'Waits for its supplier'])).rows[0].id as string;
    let r = await drain(d);
    for (let i = 0; i < 4; i++) r = await drain(d);
    expect(r.failing).toMatchObject([{ side: 'monolith', table: 'listings', key: [listing], code: '23503', attempts: 5 }]);
    expect(r.failing[0]!.message).toBe('insert or update on table "listings" violates foreign key constraint "listings_supplier_id_fkey"');
    expect(r.deadLettered).toEqual([]);
    expect((await pendingBySide(d)).monolith.changes).toBe(1);
    await d.pools.monolith.query('UPDATE suppliers SET updated_at = now() WHERE id = 961');
    r = await drain(d);
    expect([r.done, r.failing]).toEqual([true, []]);
    expect(await count(d.pools.service, 'SELECT count(*) FROM listings WHERE id = $1', [listing])).toBe(1);
    expect(await count(d.pools.service, 'SELECT count(*) FROM strangler_apply_failures')).toBe(0);
  });
});

describe('dead letters shown', () => {
  it("when there are dead letters, then the replicator's /metrics and /status and `strangler data status` show them", async () => {
    const sync = await startSyncServer([d], { port: 0, host: '127.0.0.1', intervalMs: 20, log: createLogger('silent') });
    try {
      expect(await (await fetch(`${sync.url}/metrics`)).text()).toContain('strangler_sync_dead_letters{service="listings"} 2');
      const [status] = await (await fetch(`${sync.url}/status`)).json();
      expect(status.deadLetters).toMatchObject([
        { service: 'listings', side: 'monolith', table: 'suppliers', key: [onMonolith], code: '23505', attempts: 4 },
        { service: 'listings', side: 'service', table: 'suppliers', key: [onService], code: '23505', attempts: 4 },
      ]);
    } finally {
      await sync.close();
    }
    const env = { MONOLITH_DATABASE_URL: d.urls.monolith, LISTINGS_DATABASE_URL: d.urls.service };
    const json = await runCli(['data', 'status', 'listings', '--json'], env);
    expect(json.code, json.err).toBe(0);
    expect(JSON.parse(json.out)[0].deadLetters).toHaveLength(2);
    const text = await runCli(['data', 'status', 'listings'], env);
    expect(text.out).toContain('dead      2 dead letters');
    expect(text.out).toMatch(new RegExp(`#\\d+ suppliers ${onService} from the service: 23505 duplicate key value violates unique constraint "suppliers_owner_user_id_key"`));
  }, 60_000);
});
