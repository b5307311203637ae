import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfill } from '../src/backfill.ts';
import { applyBatch, drain, pendingBySide, prepareSync } from '../src/replicate.ts';
import { Replicator } from '../src/replicator.ts';
import { createLogger } from '@strangler/service-kit/logger';
import { SyncMetrics } from '../src/sync-metrics.ts';
import { setWriter } from '../src/sync-state.ts';
import { verify } from '../src/verify.ts';
import { runCli } from '@strangler/stack/testing';
import { count, DATA_MAPPING, serviceDatabases, type ServiceDatabases } from './support/service-databases.ts';

/** The CLI with the test databases' mapping file in DATA_MAPPING, as a deployment sets it. */
const cli = (args: string[], env: Record<string, string> = {}): ReturnType<typeof runCli> => runCli(args, { DATA_MAPPING, ...env });

const NEW_LISTING = `INSERT INTO listings (supplier_id, title, origin_country, origin_region, variety, grade, price_per_kg_cents, currency, stock_kg, min_order_kg, harvest_date)
  VALUES (1, $1, 'Peru', 'Piura', 'criollo', 'A', 100, 'USD', 10, 1, '2026-01-01') RETURNING id::int AS id`;

let d: ServiceDatabases;
beforeAll(async () => {
  d = await serviceDatabases('listings');
});
afterAll(() => d?.close());

describe('strangler data backfill + verify (listings)', () => {
  it('when interrupted after two batches and run again, then it resumes and copies every row once', async () => {
    const progress: string[] = [];
    const partial = await backfill(d, { batchSize: 25, maxBatches: 2 });
    expect(partial.complete).toBe(false);
    expect(await count(d.pools.service, 'SELECT count(*) FROM suppliers')).toBe(40);
    const rest = await backfill(d, { batchSize: 100, onProgress: (p) => progress.push(`${p.table} ${p.copied}/${p.total}`) });
    expect(rest.complete).toBe(true);
    const reserved = await count(d.pools.monolith, 'SELECT count(*) FROM stock_reservations');
    expect(reserved).toBeGreaterThan(0);
    expect(rest.tables.map((t) => [t.table, t.copied === t.total])).toEqual([
      ['suppliers', true],
      ['listings', true],
      ['stock_reservations', true],
      ['stock_reservation_items', true],
    ]);
    expect(progress).toContain('listings 360/360');
    const verdicts = await verify(d);
    expect(verdicts.map((v) => [v.table, v.monolithRows === v.serviceRows, v.equal])).toEqual([
      ['suppliers', true, true],
      ['listings', true, true],
      ['stock_reservations', true, true],
      ['stock_reservation_items', true, true],
    ]);
    for (const v of verdicts) expect(v.monolithChecksum).toBe(v.serviceChecksum);
    // What the backfill wrote is a copy: nothing of it waits to be sent back.
    expect((await pendingBySide(d)).service.changes).toBe(0);
  });

  it('when restarted, then nothing is duplicated and the copy matches again', async () => {
    await backfill(d, { restart: true });
    expect((await verify(d)).every((v) => v.equal)).toBe(true);
    expect(await count(d.pools.service, 'SELECT count(*) FROM listings')).toBe(360);
  });
});

describe('change capture and replication', () => {
  it('when the monolith writes, then each insert, update and delete reaches the service, and nothing echoes back', async () => {
    await drain(d);
    const { rows } = await d.pools.monolith.query(NEW_LISTING, ['Captured insert']);
    await d.pools.monolith.query(`UPDATE listings SET stock_kg = stock_kg + 5 WHERE id IN (7, 8)`);
    await d.pools.monolith.query(`UPDATE suppliers SET name = name || ' (renamed)' WHERE id = 3`);
    await d.pools.monolith.query(
      `INSERT INTO stock_reservations (key, owner_user_id) VALUES ('captured', 1); INSERT INTO stock_reservation_items VALUES ('captured', 9, 'x', 1, 100, 'USD')`,
    );
    expect((await pendingBySide(d)).monolith.changes).toBe(6);
    const r = await drain(d);
    expect([r.applied, r.strays, r.done]).toEqual([6, 0, true]);
    expect(await count(d.pools.service, 'SELECT count(*) FROM listings WHERE id = $1', [rows[0].id])).toBe(1);
    expect((await verify(d)).every((v) => v.equal)).toBe(true);
    expect(await pendingBySide(d)).toMatchObject({ monolith: { changes: 0 }, service: { changes: 0 } });
    await d.pools.monolith.query(
      `DELETE FROM stock_reservation_items WHERE reservation_key = 'captured'; DELETE FROM stock_reservations WHERE key = 'captured'`,
    );
    await drain(d);
    expect(await count(d.pools.service, `SELECT count(*) FROM stock_reservations WHERE key = 'captured'`)).toBe(0);
    expect((await verify(d)).every((v) => v.equal)).toBe(true);
  });

  it('when a batch is applied twice (a crash before the outbox was cleared), then the second changes nothing', async () => {
    await d.pools.monolith.query(`UPDATE listings SET title = title || '!' WHERE id BETWEEN 20 AND 29`);
    const outbox = (await d.pools.monolith.query('SELECT table_name, key FROM strangler_outbox ORDER BY id')).rows;
    expect(await applyBatch(d, 'monolith')).toBe(10);
    // The same changes, captured again as if their removal had been lost.
    for (const o of outbox)
      await d.pools.monolith.query('INSERT INTO strangler_outbox (table_name, key) VALUES ($1, $2)', [o.table_name, o.key]);
    const before = await verify(d);
    expect(await applyBatch(d, 'monolith')).toBe(10);
    const after = await verify(d);
    expect(after.map((v) => v.serviceChecksum)).toEqual(before.map((v) => v.serviceChecksum));
    expect(after.every((v) => v.equal)).toBe(true);
  });

  it('when the same rows change many times while replication runs, then both sides end equal', async () => {
    const writes = Array.from({ length: 200 }, (_, i) =>
      d.pools.monolith.query('UPDATE listings SET stock_kg = stock_kg + 1 WHERE id = $1', [30 + (i % 5)]),
    );
    const copier = (async () => {
      for (let i = 0; i < 20; i++) await drain(d, { batchSize: 7, maxBatches: 3 });
    })();
    await Promise.all([...writes, copier]);
    await drain(d);
    expect((await verify(d)).every((v) => v.equal)).toBe(true);
  });

  it('when the service is the writer, then its changes flow back; a stray write on the monolith is applied too, and counted', async () => {
    await setWriter(d.pools.service, 'listings', 'service');
    const { rows } = await d.pools.service.query(NEW_LISTING, ['Written by the service']);
    expect(rows[0].id).toBeGreaterThanOrEqual(1_000_000_000);
    await d.pools.monolith.query(`UPDATE listings SET description = 'late write' WHERE id = 40`);
    const r = await drain(d);
    expect([r.applied, r.strays]).toEqual([1, 1]);
    expect(await count(d.pools.monolith, 'SELECT count(*) FROM listings WHERE id = $1', [rows[0].id])).toBe(1);
    expect((await verify(d)).every((v) => v.equal)).toBe(true);
    await expect(backfill(d)).rejects.toThrow(/is the writer of its rows now/);
    await setWriter(d.pools.service, 'listings', 'monolith');
  });

  it('when a change cannot be applied yet, then it stays in the outbox and is applied once it can', async () => {
    // A listing whose supplier exists only in the monolith's copy: the service's foreign key refuses it.
    await d.pools.monolith.query(
      `INSERT INTO suppliers (id, owner_user_id, name, country, region) VALUES (900, 1, 'Late', 'Peru', 'Piura')`,
    );
    await d.pools.monolith.query(`DELETE FROM strangler_outbox WHERE table_name = 'suppliers'`);
    const { rows } = await d.pools.monolith.query(NEW_LISTING.replace('VALUES (1,', 'VALUES (900,'), ['Orphan for now']);
    const stuck = await drain(d);
    expect([stuck.done, stuck.deadLettered]).toEqual([false, []]);
    expect(stuck.failing).toMatchObject([{ side: 'monolith', table: 'listings', key: [String(rows[0].id)], code: '23503', attempts: 1 }]);
    expect((await pendingBySide(d)).monolith.changes).toBe(1);
    await d.pools.monolith.query(`UPDATE suppliers SET updated_at = now() WHERE id = 900`);
    await drain(d);
    expect(await count(d.pools.service, 'SELECT count(*) FROM listings WHERE id = $1', [rows[0].id])).toBe(1);
    expect((await verify(d)).every((v) => v.equal)).toBe(true);
  });
});

describe('the replicator', () => {
  const until = async (check: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + 5_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('when it runs, then changes reach the other side and the metrics say so; a change refused for a while is counted, retried and applied later', async () => {
    const metrics = new SyncMetrics();
    const replicator = new Replicator([d], { intervalMs: 20, metrics, log: createLogger('strangler-sync', 'silent') });
    replicator.start();
    try {
      await d.pools.monolith.query('UPDATE listings SET stock_kg = 4242 WHERE id = 61');
      await until(async () => (await count(d.pools.service, 'SELECT stock_kg FROM listings WHERE id = 61')) === 4242);
      await until(async () =>
        (await metrics.registry.metrics()).includes('strangler_sync_pending_changes{service="listings",side="monolith"} 0'),
      );
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/strangler_sync_applied_changes_total\{service="listings"\} [1-9]/);
      expect(text).toContain('strangler_sync_writer{service="listings",writer="monolith"} 1');
      expect(text).toMatch(/strangler_sync_lag_seconds\{service="listings"\} 0/);

      // A listing whose supplier the service has not got yet: refused by its foreign key, then fine.
      await d.pools.monolith.query(
        `INSERT INTO suppliers (id, owner_user_id, name, country, region) VALUES (901, 90901, 'Later', 'Peru', 'Piura')`,
      );
      await d.pools.monolith.query(`DELETE FROM strangler_outbox WHERE table_name = 'suppliers'`);
      await d.pools.monolith.query(NEW_LISTING.replace('VALUES (1,', 'VALUES (901,'), ['Waits for its supplier']);
      await until(async () => (await metrics.registry.metrics()).includes('strangler_sync_failing_changes{service="listings"} 1'));
      await d.pools.monolith.query('UPDATE suppliers SET updated_at = now() WHERE id = 901');
      await until(async () => (await count(d.pools.service, `SELECT count(*) FROM listings WHERE title = 'Waits for its supplier'`)) === 1);
    } finally {
      await replicator.stop();
    }
    expect((await verify(d)).every((v) => v.equal)).toBe(true);
  });
});

describe('strangler data verify, status and backfill (the CLI)', () => {
  it('when the sides differ, then verify exits 1 naming the keys; URLs never printed', async () => {
    await prepareSync(d);
    // Edited behind the replicator's back (capture off for this transaction only).
    await d.pools.service.query(`BEGIN;
      SELECT set_config('strangler.applying', 'on', true);
      UPDATE listings SET title = title || ' (edited)' WHERE id IN (3, 5);
      DELETE FROM stock_reservation_items WHERE (reservation_key, listing_id) IN (SELECT reservation_key, listing_id FROM stock_reservation_items ORDER BY 1, 2 LIMIT 1);
      COMMIT`);
    const r = await cli(['data', 'verify', 'listings', '--monolith-db', d.urls.monolith, '--service-db', d.urls.service]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^listings\s+DIFFERS/m);
    expect(r.out).toContain('different rows:         3, 5');
    expect(r.out).toMatch(/stock_reservation_items\s+DIFFERS[\s\S]*missing in the service: \(order:\d+, \d+\)/);
    expect(r.out + r.err).not.toContain(d.urls.monolith);
  });

  it('when asked for status, then it says who writes, what waits and the lag, from the environment URLs', async () => {
    await d.pools.monolith.query(`UPDATE listings SET stock_kg = stock_kg + 1 WHERE id = 50`);
    const r = await cli(['data', 'status', '--json'], { MONOLITH_DATABASE_URL: d.urls.monolith, LISTINGS_DATABASE_URL: d.urls.service });
    expect(r.code).toBe(0);
    const [status] = JSON.parse(r.out);
    expect(status).toMatchObject({
      service: 'listings',
      writer: 'monolith',
      pending: { monolith: { changes: 1 }, service: { changes: 0 } },
    });
    expect(status.lagSeconds).toBeGreaterThan(0);
    const text = await cli(['data', 'status', 'listings'], {
      MONOLITH_DATABASE_URL: d.urls.monolith,
      LISTINGS_DATABASE_URL: d.urls.service,
    });
    expect(text.out).toMatch(/listings: the monolith writes; lag \d+\.\d{3} s/);
  });

  it('when the service or a URL is unknown, then exit 2 saying what to give; a database that is not there, exit 1 in one line', async () => {
    const unknown = await cli(['data', 'verify', 'payments', '--monolith-db', 'x', '--service-db', 'y']);
    expect([unknown.code, unknown.err.trim()]).toEqual([2, 'no data mapping for service "payments"; known: auth, listings, orders']);
    const gone = await cli(['data', 'verify', 'listings', '--monolith-db', `${d.urls.monolith}_gone`, '--service-db', d.urls.service]);
    expect([gone.code, gone.err.trim()]).toEqual([
      1,
      expect.stringMatching(/^strangler: a database refused or could not be reached: database "\S+_gone" does not exist \(3D000\)$/),
    ]);
    const missing = await cli(['data', 'backfill', 'listings']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('give --monolith-db and --service-db (or MONOLITH_DATABASE_URL and LISTINGS_DATABASE_URL)');
  });
});
