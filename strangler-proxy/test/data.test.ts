import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MIGRATIONS_DIR as LISTINGS_MIGRATIONS } from '@strangler/listings';
import { MIGRATIONS_DIR as MONOLITH_MIGRATIONS, seedIfEmpty } from '@strangler/monolith';
import { createDatabase, migrate } from '@strangler/service-kit';
import { createScratchDatabase, type ScratchDatabase } from '@strangler/stack';
import type {} from '@strangler/stack/testing/provided-context';
import { backfill } from '../src/data/backfill.ts';
import { mappingFor } from '../src/data/table-mapping.ts';
import { verify } from '../src/data/verify.ts';

let monolithDb: ScratchDatabase;
let listingsDb: ScratchDatabase;
let source: pg.Pool;
let target: pg.Pool;
const mapping = mappingFor('listings');

beforeAll(async () => {
  monolithDb = await createScratchDatabase(inject('pgServerUrl'), 'data_monolith');
  listingsDb = await createScratchDatabase(inject('pgServerUrl'), 'data_listings');
  const m = createDatabase({ connectionString: monolithDb.url });
  await migrate(m, MONOLITH_MIGRATIONS);
  await seedIfEmpty(m);
  await m.close();
  const l = createDatabase({ connectionString: listingsDb.url });
  await migrate(l, LISTINGS_MIGRATIONS);
  await l.close();
  source = new pg.Pool({ connectionString: monolithDb.url });
  target = new pg.Pool({ connectionString: listingsDb.url });
});
afterAll(async () => {
  await source?.end();
  await target?.end();
  await monolithDb?.drop();
  await listingsDb?.drop();
});

describe('strangler data backfill + verify (listings)', () => {
  it('when interrupted after two batches and run again, then it resumes and copies every row once', async () => {
    const progress: string[] = [];
    const partial = await backfill(source, target, mapping, { batchSize: 25, maxBatches: 2 });
    expect(partial.complete).toBe(false);
    expect(Number((await target.query('SELECT count(*) FROM suppliers')).rows[0].count)).toBe(40);
    const rest = await backfill(source, target, mapping, { batchSize: 100, onProgress: (p) => progress.push(`${p.table} ${p.copied}/${p.total}`) });
    expect(rest.complete).toBe(true);
    expect(rest.tables.map((t) => [t.table, t.copied, t.total])).toEqual([
      ['suppliers', 40, 40],
      ['listings', 360, 360],
    ]);
    expect(progress.at(-1)).toBe('listings 360/360');
    const verdicts = await verify(source, target, mapping);
    expect(verdicts.map((v) => [v.table, v.sourceRows, v.targetRows, v.equal])).toEqual([
      ['suppliers', 40, 40, true],
      ['listings', 360, 360, true],
    ]);
    for (const v of verdicts) expect(v.sourceChecksum).toBe(v.targetChecksum);
  });

  it('when run again, then nothing is duplicated; a changed source row is copied on the next full run', async () => {
    await target.query('DELETE FROM strangler_backfill_checkpoints');
    await source.query(`UPDATE listings SET stock_kg = stock_kg + 1 WHERE id = 7`);
    await backfill(source, target, mapping);
    const verdicts = await verify(source, target, mapping);
    expect(verdicts.every((v) => v.equal)).toBe(true);
    expect(Number((await target.query('SELECT count(*) FROM listings')).rows[0].count)).toBe(360);
  });

  it('when the sides differ, then verify names the keys: changed, missing and extra rows', async () => {
    await target.query(`UPDATE listings SET title = title || ' (edited)' WHERE id IN (3, 5)`);
    await target.query(`DELETE FROM listings WHERE id = 360`);
    await target.query(
      `INSERT INTO listings (supplier_id, title, origin_country, origin_region, variety, grade, price_per_kg_cents, currency, stock_kg, min_order_kg, harvest_date)
       VALUES (1, 'Only here', 'Peru', 'Piura', 'criollo', 'A', 100, 'USD', 1, 1, '2026-01-01')`,
    );
    const listings = (await verify(source, target, mapping)).find((v) => v.table === 'listings')!;
    expect(listings.equal).toBe(false);
    expect(listings.different).toEqual([3, 5]);
    expect(listings.missingInTarget).toEqual([360]);
    expect(listings.extraInTarget).toEqual([1_000_000_000]);
    expect(listings.sourceChecksum).not.toBe(listings.targetChecksum);
  });
});

describe('strangler data verify (the CLI)', () => {
  it('when the sides differ, then it exits 1 naming the keys; an unknown service or missing URL exits 2', async () => {
    const { spawn } = await import('node:child_process');
    const path = await import('node:path');
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, [path.resolve(import.meta.dirname, '../src/cli/strangler.ts'), ...args], { env: { PATH: process.env.PATH ?? '' } });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        child.on('exit', (code) => resolve({ code, out, err }));
      });
    const r = await run(['data', 'verify', 'listings', '--source', monolithDb.url, '--target', listingsDb.url]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/listings\s+DIFFERS/);
    expect(r.out).toContain('different rows:         3, 5');
    expect(r.out).not.toContain(monolithDb.url);
    expect((await run(['data', 'verify', 'payments', '--source', 'x', '--target', 'y'])).code).toBe(2);
    expect((await run(['data', 'backfill', 'listings'])).err).toContain('give --source and --target');
  });
});
