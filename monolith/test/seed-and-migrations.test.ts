import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createScratchDatabase, type ScratchDatabase } from '@strangler/stack';
import { createDatabase, loadMigrations, migrate, type Database } from '@strangler/service-kit';
import { MIGRATIONS_DIR } from '../src/db/migrations-dir.ts';
import { reseed, seedIfEmpty } from '../src/seed/seed.ts';
import { DEMO_ACCOUNTS, generateSeedData } from '../src/seed/seed-data.ts';
import { VARIETIES } from '../src/listings/listings.ts';
import { HttpClient } from '@strangler/stack/testing';
import { startTestMonolith } from './support/test-monolith.ts';

describe('generateSeedData', () => {
  it('when generated twice, then the data is identical', () => {
    expect(generateSeedData()).toEqual(generateSeedData());
  });

  it('when generated, then it has the sizes the brief asks for and consistent rows', () => {
    const data = generateSeedData();
    expect(data.suppliers.length).toBeGreaterThanOrEqual(30);
    expect(data.listings.length).toBeGreaterThanOrEqual(300);
    expect(data.users.length).toBeGreaterThanOrEqual(50);
    expect(data.orders.length).toBeGreaterThanOrEqual(500);
    expect(new Set(data.users.map((u) => u.email.toLowerCase())).size).toBe(data.users.length);
    expect(new Set(data.suppliers.map((s) => s.ownerUserId)).size).toBe(data.suppliers.length);
    const userById = new Map(data.users.map((u) => [u.id, u]));
    for (const s of data.suppliers) expect(userById.get(s.ownerUserId)?.role).toBe('supplier');
    for (const l of data.listings) {
      expect(VARIETIES).toContain(l.variety);
      expect(l.pricePerKgCents).toBeGreaterThan(0);
      expect(l.harvestDate <= l.createdAt.slice(0, 10)).toBe(true);
    }
    const listingById = new Map(data.listings.map((l) => [l.id, l]));
    for (const o of data.orders) {
      expect(userById.get(o.buyerUserId)?.role).toBe('buyer');
      for (const item of o.items) expect(listingById.get(item.listingId)?.currency).toBe(o.currency);
    }
    for (const role of ['buyer', 'supplier', 'admin'] as const) {
      expect(data.users.find((u) => u.email === DEMO_ACCOUNTS[role].email)?.role).toBe(role);
    }
  });
});

describe('seeding a database', () => {
  let scratch: ScratchDatabase;
  let db: Database;
  beforeAll(async () => {
    scratch = await createScratchDatabase(inject('pgServerUrl'), 'monolith_seed');
    db = createDatabase({ connectionString: scratch.url, applicationName: 'monolith' });
    await migrate(db, MIGRATIONS_DIR);
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it('when the database is empty, then it seeds once; a second call and a concurrent one do nothing', async () => {
    const results = await Promise.all([seedIfEmpty(db), seedIfEmpty(db)]);
    expect(results.filter(Boolean)).toEqual([{ users: 72, suppliers: 40, listings: 360, orders: 600 }]);
    expect(await seedIfEmpty(db)).toBeUndefined();
    const { rows } = await db.query<{ n: number }>('SELECT count(*) AS n FROM order_items');
    expect(rows[0]!.n).toBeGreaterThanOrEqual(600);
  });

  it('when reseeded, then the same rows come back and new ids follow the seeded ones', async () => {
    await db.query(`DELETE FROM order_items; DELETE FROM orders`);
    await reseed(db);
    const { rows } = await db.query<{ n: number }>('SELECT count(*) AS n FROM orders');
    expect(rows[0]!.n).toBe(600);
    const next = await db.query<{ id: number }>(
      `INSERT INTO users (email, name, role, password_hash) VALUES ('after@seed.example', 'After', 'buyer', 'x') RETURNING id::int AS id`,
    );
    expect(next.rows[0]!.id).toBe(73);
  });
});

describe('the seeded app', () => {
  it('when the demo buyer logs in, then they see their past orders', async () => {
    const app = await startTestMonolith({ seed: true });
    try {
      const client = new HttpClient(app.url);
      const login = await client.post('/api/auth/login', { email: DEMO_ACCOUNTS.buyer.email, password: DEMO_ACCOUNTS.buyer.password });
      expect(login.status).toBe(200);
      expect((await client.get('/api/orders')).body.total).toBeGreaterThanOrEqual(6);
      const supplier = new HttpClient(app.url);
      await supplier.post('/api/auth/login', { email: DEMO_ACCOUNTS.supplier.email, password: DEMO_ACCOUNTS.supplier.password });
      expect((await supplier.get('/api/suppliers/mine')).body.supplier.name).toBe('Hacienda Santos');
    } finally {
      await app.close();
    }
  });
});

describe('migration 002 (the seams of the extraction)', () => {
  let scratch: ScratchDatabase;
  let db: Database;
  beforeAll(async () => {
    scratch = await createScratchDatabase(inject('pgServerUrl'), 'monolith_seams');
    db = createDatabase({ connectionString: scratch.url, applicationName: 'monolith' });
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it('when it runs over legacy orders, then every open order holds its stock by a reservation; closed ones none', async () => {
    const [first] = await loadMigrations(MIGRATIONS_DIR);
    await migrate(db, [first!]);
    await db.query(`INSERT INTO users (id, email, name, role, password_hash) VALUES (1, 'b@x.example', 'B', 'buyer', 'x'), (2, 's@x.example', 'S', 'supplier', 'x');
      INSERT INTO suppliers (id, owner_user_id, name, country, region) VALUES (1, 2, 'Finca', 'Peru', 'Piura');
      INSERT INTO listings (id, supplier_id, title, origin_country, origin_region, variety, grade, price_per_kg_cents, currency, stock_kg, min_order_kg, harvest_date)
        VALUES (1, 1, 'Piura', 'Peru', 'Piura', 'criollo', 'A', 1200, 'EUR', 50, 10, '2026-01-01'), (2, 1, 'Tumbes', 'Peru', 'Tumbes', 'criollo', 'A', 900, 'EUR', 50, 10, '2026-01-01');
      INSERT INTO orders (id, buyer_user_id, status, currency, total_cents) VALUES (1, 1, 'placed', 'EUR', 0), (2, 1, 'shipped', 'EUR', 0), (3, 1, 'confirmed', 'EUR', 0);
      INSERT INTO order_items (order_id, listing_id, listing_title, quantity_kg, unit_price_cents) VALUES (1, 1, 'Piura', 10, 1200), (1, 2, 'Tumbes', 20, 900), (2, 1, 'Piura', 10, 1200), (3, 2, 'Tumbes', 10, 900);`);
    expect((await migrate(db, MIGRATIONS_DIR)).applied).toEqual(['002_service_seams']);
    const orders = await db.query('SELECT id::int, reservation_key FROM orders ORDER BY id');
    expect(orders.rows).toEqual([
      { id: 1, reservation_key: 'order:1' },
      { id: 2, reservation_key: null },
      { id: 3, reservation_key: 'order:3' },
    ]);
    const held = await db.query(
      `SELECT reservation_key, listing_id::int, quantity_kg, unit_price_cents, currency FROM stock_reservation_items ORDER BY 1, 2`,
    );
    expect(held.rows).toEqual([
      { reservation_key: 'order:1', listing_id: 1, quantity_kg: 10, unit_price_cents: 1200, currency: 'EUR' },
      { reservation_key: 'order:1', listing_id: 2, quantity_kg: 20, unit_price_cents: 900, currency: 'EUR' },
      { reservation_key: 'order:3', listing_id: 2, quantity_kg: 10, unit_price_cents: 900, currency: 'EUR' },
    ]);
    expect((await db.query(`SELECT owner_user_id::int, status FROM stock_reservations WHERE key = 'order:1'`)).rows).toEqual([
      { owner_user_id: 1, status: 'reserved' },
    ]);
  });

  it("when the monolith's ids reach 999 999 999, then it refuses the next one rather than enter the services' range", async () => {
    await db.query(`SELECT setval(pg_get_serial_sequence('listings', 'id'), 999999999)`);
    await expect(
      db.query(`INSERT INTO listings (supplier_id, title, origin_country, origin_region, variety, grade, price_per_kg_cents, currency, stock_kg, min_order_kg, harvest_date)
        VALUES (1, 'One too many', 'Peru', 'Piura', 'criollo', 'A', 100, 'USD', 1, 1, '2026-01-01')`),
    ).rejects.toThrow(/reached maximum value/);
  });
});

describe('migrate', () => {
  let scratch: ScratchDatabase;
  let db: Database;
  beforeAll(async () => {
    scratch = await createScratchDatabase(inject('pgServerUrl'), 'monolith_migrate');
    db = createDatabase({ connectionString: scratch.url, applicationName: 'monolith' });
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it('when run concurrently and then again, then each migration is applied exactly once', async () => {
    const results = await Promise.all([migrate(db, MIGRATIONS_DIR), migrate(db, MIGRATIONS_DIR), migrate(db, MIGRATIONS_DIR)]);
    expect(results.flatMap((r) => r.applied)).toEqual(['001_initial', '002_service_seams']);
    expect((await migrate(db, MIGRATIONS_DIR)).applied).toEqual([]);
  });

  it('when an applied migration file has changed, then it refuses to run', async () => {
    const migrations = await loadMigrations(MIGRATIONS_DIR);
    const edited = migrations.map((m, i) => (i === 0 ? { ...m, checksum: 'changed' } : m));
    await expect(migrate(db, edited)).rejects.toThrow(/was changed after it was applied/);
  });

  it('when a file is misnamed or a version is skipped, then loading fails with the reason', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'migrations-'));
    try {
      await fs.copyFile(path.join(MIGRATIONS_DIR, '001_initial.sql'), path.join(dir, '001_initial.sql'));
      await fs.writeFile(path.join(dir, '003_later.sql'), 'SELECT 1');
      await expect(loadMigrations(dir)).rejects.toThrow(/without gaps/);
      await fs.writeFile(path.join(dir, '2-bad.sql'), 'SELECT 1');
      await expect(loadMigrations(dir)).rejects.toThrow(/NNN_description\.sql/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
