import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfill, drain, listDeadLetters, loadDataMapping, verify } from '@strangler/data';
import { DATA_MAPPING_FILE, SERVICES, type ServiceName } from '@strangler/reference-migration';
import { runCli } from '@strangler/stack/testing';
import { count, serviceDatabases, type ServiceDatabases } from './support/service-databases.ts';

// The reference migration's own data facts, on the apps' real migrations and the monolith's seed:
// its mapping file matches those schemas, the orders buyer column is renamed on the way, and its
// two secondary unique keys refuse a row made on both sides without holding up the rest.
// How the data toolkit behaves is pinned by its own tests, on a small schema of theirs.

const sides = {} as Record<ServiceName, ServiceDatabases>;
beforeAll(async () => {
  for (const service of SERVICES) sides[service] = await serviceDatabases(service);
}, 120_000);
afterAll(async () => {
  for (const d of Object.values(sides)) await d.close();
});

/** Set aside at the third failed pass, however young: the tests need not wait out the default 10 s. */
const AT_ONCE = { attempts: 3, afterMs: 0 };

describe('the reference data mapping', () => {
  it('when the file is read, then it maps auth, listings and orders, parents first, with the orders buyer column renamed; check-mapping accepts it', async () => {
    const m = loadDataMapping(DATA_MAPPING_FILE);
    expect(m.services).toEqual([...SERVICES]);
    expect(m.for('auth').tables.map((t) => t.monolith)).toEqual(['users']);
    expect(m.for('listings').tables.map((t) => t.monolith)).toEqual([
      'suppliers',
      'listings',
      'stock_reservations',
      'stock_reservation_items',
    ]);
    expect(m.for('orders').tables.map((t) => t.monolith)).toEqual(['orders', 'order_items', 'idempotency_keys']);
    expect(m.for('orders').tables[0]!.columns).toContainEqual(['buyer_user_id', 'buyer_id']);
    const ok = await runCli(['data', 'check-mapping', DATA_MAPPING_FILE]);
    expect([ok.code, ok.out.trim()]).toEqual([0, `${DATA_MAPPING_FILE}: ok — 3 services (auth, listings, orders), 8 tables`]);
  });

  it.each(SERVICES)(
    'when %s is backfilled from the seeded monolith, then every mapped table is copied whole and verifies equal',
    async (service) => {
      const d = sides[service];
      const r = await backfill(d);
      expect(r.complete).toBe(true);
      for (const t of r.tables) expect([t.table, t.copied]).toEqual([t.table, t.total]);
      const verdicts = await verify(d);
      expect(verdicts.map((v) => v.table)).toEqual(d.mapping.tables.map((t) => t.service));
      for (const v of verdicts) expect([v.table, v.equal, v.monolithRows === v.serviceRows]).toEqual([v.table, true, true]);
      // The seed fills the service's main table: an empty copy would verify equal too.
      expect(verdicts[0]!.serviceRows).toBeGreaterThan(0);
    },
  );
});

describe('the orders buyer column (buyer_user_id in the monolith, buyer_id in the service)', () => {
  it('when either side changes an order’s buyer, then the other side has it under its own column name', async () => {
    const d = sides.orders;
    await d.pools.monolith.query('UPDATE orders SET buyer_user_id = 70 WHERE id = 1');
    expect((await drain(d)).done).toBe(true);
    expect(await count(d.pools.service, 'SELECT buyer_id FROM orders WHERE id = 1')).toBe(70);

    await d.pools.service.query('UPDATE orders SET buyer_id = 71 WHERE id = 2');
    expect((await drain(d)).strays).toBe(1);
    expect(await count(d.pools.monolith, 'SELECT buyer_user_id FROM orders WHERE id = 2')).toBe(71);
    expect((await verify(d)).every((v) => v.equal)).toBe(true);
  });
});

describe('the reference schemas’ secondary unique keys', () => {
  it('when one supplier account makes its profile on both sides, then suppliers.owner_user_id refuses each copy as a dead letter and the rest of the batch goes through', async () => {
    const d = sides.listings;
    const supplier = `INSERT INTO suppliers (owner_user_id, name, country, region) VALUES (90950, $1, 'Peru', 'Piura') RETURNING id::text AS id`;
    const onMonolith = (await d.pools.monolith.query(supplier, ['Made on the monolith'])).rows[0].id as string;
    const onService = (await d.pools.service.query(supplier, ['Made on the service'])).rows[0].id as string;
    await d.pools.monolith.query('UPDATE listings SET stock_kg = 777 WHERE id IN (10, 11)');
    for (let i = 0; i < 3; i++) await drain(d, { deadLetter: AT_ONCE });
    expect(await count(d.pools.service, 'SELECT count(*) FROM listings WHERE id IN (10, 11) AND stock_kg = 777')).toBe(2);
    expect((await listDeadLetters(d.pools.service, 'listings')).map((l) => [l.side, l.table, l.key, l.code, l.message])).toEqual([
      ['monolith', 'suppliers', [onMonolith], '23505', 'duplicate key value violates unique constraint "suppliers_owner_user_id_key"'],
      ['service', 'suppliers', [onService], '23505', 'duplicate key value violates unique constraint "suppliers_owner_user_id_key"'],
    ]);
  });

  it('when one email, case aside, registers on both sides, then auth’s unique lower(email) refuses each copy as a dead letter, the rest goes through, and the email is nowhere in what is kept', async () => {
    const d = sides.auth;
    const user = `INSERT INTO users (email, name, role, password_hash) VALUES ($1, 'Twin', 'buyer', 'x') RETURNING id::text AS id`;
    const onMonolith = (await d.pools.monolith.query(user, ['Twin.Sister@example.com'])).rows[0].id as string;
    const onService = (await d.pools.service.query(user, ['twin.sister@example.com'])).rows[0].id as string;
    await d.pools.monolith.query(`UPDATE users SET name = 'Renamed on the monolith' WHERE id = 5`);
    for (let i = 0; i < 3; i++) await drain(d, { deadLetter: AT_ONCE });
    expect(await count(d.pools.service, `SELECT count(*) FROM users WHERE id = 5 AND name = 'Renamed on the monolith'`)).toBe(1);
    const letters = await listDeadLetters(d.pools.service, 'auth');
    expect(letters.map((l) => [l.side, l.key, l.code, l.message])).toEqual([
      ['monolith', [onMonolith], '23505', 'duplicate key value violates unique constraint "users_email_unique"'],
      ['service', [onService], '23505', 'duplicate key value violates unique constraint "users_email_unique"'],
    ]);
    expect(JSON.stringify(letters).toLowerCase()).not.toContain('twin.sister');
  });
});
