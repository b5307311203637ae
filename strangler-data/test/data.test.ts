import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfill } from '../src/backfill.ts';
import { applyBatch, drain, pendingBySide, prepareSync } from '../src/replicate.ts';
import { Replicator } from '../src/replicator.ts';
import { SyncMetrics } from '../src/sync-metrics.ts';
import { setWriter } from '../src/sync-state.ts';
import { inCopyTransaction } from '../src/transaction.ts';
import { verify } from '../src/verify.ts';
import { runCli } from '@strangler/stack/testing';
import { isbn, LIBRARY_MAPPING, libraryDatabases } from './support/library-databases.ts';
import { count, type ServiceDatabases } from './support/sides.ts';

/** The CLI with the library's mapping file in DATA_MAPPING, as a deployment sets it. */
const cli = (args: string[], env: Record<string, string> = {}): ReturnType<typeof runCli> =>
  runCli(args, { DATA_MAPPING: LIBRARY_MAPPING, ...env });

const NEW_BOOK = `INSERT INTO books (isbn, writer_id, title) VALUES ($1, $2, $3)`;
/**
 * An author only the monolith has: its own change never captured, as if it had been lost. Written
 * with capture off in its transaction — not inserted and then deleted from the outbox, which left
 * a running replicator a moment to copy it across, and then the book that needs it was not refused.
 */
const UNCAPTURED_AUTHOR = (id: number): Promise<unknown> =>
  inCopyTransaction(d.pools.monolith, (c) =>
    c.query(`INSERT INTO authors (id, name, email) VALUES ($1, 'Late', $2)`, [id, `late${id}@library.test`]),
  );

let d: ServiceDatabases;
beforeAll(async () => {
  d = await libraryDatabases();
});
afterAll(() => d?.close());

describe('strangler data backfill + verify', () => {
  it('when interrupted after two batches and run again, then it resumes and copies every row once', async () => {
    const progress: string[] = [];
    // Two batches of 25: every author (20), then the first 25 books; stopped inside the renamed table.
    const partial = await backfill(d, { batchSize: 25, maxBatches: 2 });
    expect(partial.complete).toBe(false);
    expect(await count(d.pools.service, 'SELECT count(*) FROM authors')).toBe(20);
    expect(await count(d.pools.service, 'SELECT count(*) FROM titles')).toBe(25);
    const rest = await backfill(d, { batchSize: 100, onProgress: (p) => progress.push(`${p.table} ${p.copied}/${p.total}`) });
    expect(rest.complete).toBe(true);
    expect(rest.tables.map((t) => [t.table, t.copied, t.total])).toEqual([
      ['authors', 20, 20],
      ['titles', 60, 60],
      ['copies', 120, 120],
    ]);
    // Resumed after the 25th book, not from the start.
    expect(progress).toEqual(['titles 60/60', 'copies 100/120', 'copies 120/120']);
    const verdicts = await verify(d);
    expect(verdicts.map((v) => [v.table, v.monolithRows, v.serviceRows, v.equal])).toEqual([
      ['authors', 20, 20, true],
      ['titles', 60, 60, true],
      ['copies', 120, 120, true],
    ]);
    for (const v of verdicts) expect(v.monolithChecksum).toBe(v.serviceChecksum);
    // The renamed column carries the value across.
    expect(await count(d.pools.service, 'SELECT author_id FROM titles WHERE isbn = $1', [isbn(7)])).toBe(8);
    // What the backfill wrote is a copy: nothing of it waits to be sent back.
    expect((await pendingBySide(d)).service.changes).toBe(0);
  });

  it('when restarted, then nothing is duplicated and the copy matches again', async () => {
    await backfill(d, { restart: true });
    expect((await verify(d)).every((v) => v.equal)).toBe(true);
    expect(await count(d.pools.service, 'SELECT count(*) FROM titles')).toBe(60);
    expect(await count(d.pools.service, 'SELECT count(*) FROM copies')).toBe(120);
  });
});

describe('change capture and replication', () => {
  it('when the monolith writes, then each insert, update and delete reaches the service, and nothing echoes back', async () => {
    await drain(d);
    await d.pools.monolith.query(NEW_BOOK, ['978-100001', 1, 'Captured insert']);
    await d.pools.monolith.query(`UPDATE books SET title = title || ' (revised)' WHERE isbn IN ($1, $2)`, [isbn(7), isbn(8)]);
    await d.pools.monolith.query(`UPDATE authors SET name = name || ' (renamed)' WHERE id = 3`);
    await d.pools.monolith.query(`INSERT INTO copies (isbn, copy_no, shelf) VALUES ('978-100001', 1, 'new arrivals')`);
    await d.pools.monolith.query(`UPDATE copies SET shelf = 'returns' WHERE isbn = $1 AND copy_no = 1`, [isbn(9)]);
    expect((await pendingBySide(d)).monolith.changes).toBe(6);
    const r = await drain(d);
    expect([r.applied, r.strays, r.done]).toEqual([6, 0, true]);
    expect((await d.pools.service.query(`SELECT author_id::int, title FROM titles WHERE isbn = '978-100001'`)).rows).toEqual([
      { author_id: 1, title: 'Captured insert' },
    ]);
    expect((await verify(d)).every((v) => v.equal)).toBe(true);
    expect(await pendingBySide(d)).toMatchObject({ monolith: { changes: 0 }, service: { changes: 0 } });
    // Deleted children first, then their parent: the service's foreign keys let the batch through in that order.
    await d.pools.monolith.query(`DELETE FROM copies WHERE isbn = '978-100001'; DELETE FROM books WHERE isbn = '978-100001'`);
    await drain(d);
    expect(await count(d.pools.service, `SELECT count(*) FROM titles WHERE isbn = '978-100001'`)).toBe(0);
    expect((await verify(d)).every((v) => v.equal)).toBe(true);
  });

  it('when a batch is applied twice (a crash before the outbox was cleared), then the second changes nothing', async () => {
    await d.pools.monolith.query(`UPDATE books SET title = title || '!' WHERE isbn BETWEEN $1 AND $2`, [isbn(20), isbn(29)]);
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
      d.pools.monolith.query('UPDATE copies SET shelf = $2 WHERE isbn = $1 AND copy_no = 1', [isbn(30 + (i % 5)), `shelf ${i}`]),
    );
    const copier = (async () => {
      for (let i = 0; i < 20; i++) await drain(d, { batchSize: 7, maxBatches: 3 });
    })();
    await Promise.all([...writes, copier]);
    await drain(d);
    expect((await verify(d)).every((v) => v.equal)).toBe(true);
  });

  it('when the service is the writer, then its changes flow back; a stray write on the monolith is applied too, and counted', async () => {
    await setWriter(d.pools.service, 'catalog', 'service');
    const { rows } = await d.pools.service.query(
      `INSERT INTO authors (name, email) VALUES ('Written by the service', 'service@library.test') RETURNING id::bigint AS id`,
    );
    // The service's own ids: never one the monolith hands out.
    expect(Number(rows[0].id)).toBeGreaterThanOrEqual(1_000_000_000);
    await d.pools.monolith.query(`UPDATE books SET title = 'late write' WHERE isbn = $1`, [isbn(40)]);
    const r = await drain(d);
    expect([r.applied, r.strays]).toEqual([1, 1]);
    expect(await count(d.pools.monolith, 'SELECT count(*) FROM authors WHERE id = $1', [rows[0].id])).toBe(1);
    expect(await count(d.pools.service, `SELECT count(*) FROM titles WHERE isbn = $1 AND title = 'late write'`, [isbn(40)])).toBe(1);
    expect((await verify(d)).every((v) => v.equal)).toBe(true);
    await expect(backfill(d)).rejects.toThrow(/is the writer of its rows now/);
    await setWriter(d.pools.service, 'catalog', 'monolith');
  });

  it('when a change cannot be applied yet, then it stays in the outbox and is applied once it can', async () => {
    // A book whose author exists only in the monolith's copy: the service's foreign key refuses it.
    await UNCAPTURED_AUTHOR(900);
    await d.pools.monolith.query(NEW_BOOK, ['978-900000', 900, 'Orphan for now']);
    const stuck = await drain(d);
    expect([stuck.done, stuck.deadLettered]).toEqual([false, []]);
    expect(stuck.failing).toMatchObject([{ side: 'monolith', table: 'books', key: ['978-900000'], code: '23503', attempts: 1 }]);
    expect((await pendingBySide(d)).monolith.changes).toBe(1);
    await d.pools.monolith.query(`UPDATE authors SET name = name WHERE id = 900`);
    await drain(d);
    expect(await count(d.pools.service, `SELECT count(*) FROM titles WHERE isbn = '978-900000'`)).toBe(1);
    expect((await verify(d)).every((v) => v.equal)).toBe(true);
  });
});

describe('the replicator', () => {
  /** What the replicator logged at warn and above (a failed round, a refused change), newest last. */
  const logged: string[] = [];
  const log = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        logged.push(chunk.toString().trim());
        done();
      },
    }),
  );
  // A bound, not a speed claim: generous for a loaded 2-core machine, and shorter than the test's own
  // timeout (WAITS of them in a row fit in it), so that a wait that runs out says what it last saw
  // and what the replicator last logged instead of the test being cut off without a word.
  const WAIT_MS = 15_000;
  const WAITS = 4;
  const until = async <T>(read: () => Promise<T>, want: (v: T) => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + WAIT_MS;
    for (let v = await read(); !want(v); v = await read()) {
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${what}; last seen: ${JSON.stringify(v)}; last logged: ${logged.slice(-3).join(' | ') || 'nothing'}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const syncLines = async (metrics: SyncMetrics): Promise<string> =>
    (await metrics.registry.metrics())
      .split('\n')
      .filter((l) => /^strangler_sync_(pending|failing|dead|errors)/.test(l))
      .join('\n');

  it(
    'when it runs, then changes reach the other side and the metrics say so; a change refused for a while is counted, retried and applied later',
    async () => {
      const metrics = new SyncMetrics();
      // The refused change must stay failing while the test watches, however slow the machine: no dead letter within the test.
      const replicator = new Replicator([d], {
        intervalMs: 20,
        metrics,
        deadLetter: { attempts: 1_000_000, afterMs: 600_000 },
        log,
      });
      replicator.start();
      const shelf = async (): Promise<string | undefined> =>
        (await d.pools.service.query<{ shelf: string }>('SELECT shelf FROM copies WHERE isbn = $1 AND copy_no = 2', [isbn(51)])).rows[0]
          ?.shelf;
      try {
        await d.pools.monolith.query(`UPDATE copies SET shelf = 'shelf 4242' WHERE isbn = $1 AND copy_no = 2`, [isbn(51)]);
        await until(shelf, (v) => v === 'shelf 4242', 'the shelf on the service side');
        await until(
          () => syncLines(metrics),
          (t) => t.includes('strangler_sync_pending_changes{service="catalog",side="monolith"} 0'),
          'nothing pending',
        );
        const text = await metrics.registry.metrics();
        expect(text).toMatch(/strangler_sync_applied_changes_total\{service="catalog"\} [1-9]/);
        expect(text).toContain('strangler_sync_writer{service="catalog",writer="monolith"} 1');
        expect(text).toMatch(/strangler_sync_lag_seconds\{service="catalog"\} 0/);

        // A book whose author the service has not got yet: refused by its foreign key, then fine.
        await UNCAPTURED_AUTHOR(901);
        await d.pools.monolith.query(NEW_BOOK, ['978-900001', 901, 'Waits for its author']);
        await until(
          () => syncLines(metrics),
          (t) => t.includes('strangler_sync_failing_changes{service="catalog"} 1'),
          'one failing change',
        );
        await d.pools.monolith.query('UPDATE authors SET name = name WHERE id = 901');
        await until(
          () => count(d.pools.service, `SELECT count(*) FROM titles WHERE title = 'Waits for its author'`),
          (n) => n === 1,
          'the book on the service side',
        );
      } finally {
        await replicator.stop();
      }
      expect((await verify(d)).every((v) => v.equal)).toBe(true);
    },
    WAITS * WAIT_MS + 20_000,
  );
});

describe('strangler data verify, status and backfill (the CLI)', () => {
  it('when the sides differ, then verify exits 1 naming the keys; URLs never printed', async () => {
    await prepareSync(d);
    // Edited behind the replicator's back (capture off for this transaction only).
    await d.pools.service.query(`BEGIN;
      SELECT set_config('strangler.applying', 'on', true);
      UPDATE titles SET title = title || ' (edited)' WHERE isbn IN ('${isbn(3)}', '${isbn(5)}');
      DELETE FROM copies WHERE (isbn, copy_no) IN (SELECT isbn, copy_no FROM copies ORDER BY 1, 2 LIMIT 1);
      COMMIT`);
    const r = await cli(['data', 'verify', 'catalog', '--monolith-db', d.urls.monolith, '--service-db', d.urls.service]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^authors\s+equal/m);
    expect(r.out).toMatch(/^titles\s+DIFFERS/m);
    expect(r.out).toContain(`different rows:         ${isbn(3)}, ${isbn(5)}`);
    expect(r.out).toMatch(/copies\s+DIFFERS[\s\S]*missing in the service: \(978-\d{6}, \d+\)/);
    expect(r.out + r.err).not.toContain(d.urls.monolith);
  });

  it('when asked for status, then it says who writes, what waits and the lag, from the environment URLs', async () => {
    await d.pools.monolith.query(`UPDATE books SET title = title || '?' WHERE isbn = $1`, [isbn(50)]);
    const env = { MONOLITH_DATABASE_URL: d.urls.monolith, CATALOG_DATABASE_URL: d.urls.service };
    const r = await cli(['data', 'status', '--json'], env);
    expect(r.code).toBe(0);
    const [status] = JSON.parse(r.out);
    expect(status).toMatchObject({
      service: 'catalog',
      writer: 'monolith',
      pending: { monolith: { changes: 1 }, service: { changes: 0 } },
    });
    expect(status.lagSeconds).toBeGreaterThan(0);
    const text = await cli(['data', 'status', 'catalog'], env);
    expect(text.out).toMatch(/catalog: the monolith writes; lag \d+\.\d{3} s/);
  });

  it('when the service or a URL is unknown, then exit 2 saying what to give; a database that is not there, exit 1 in one line', async () => {
    const unknown = await cli(['data', 'verify', 'payments', '--monolith-db', 'x', '--service-db', 'y']);
    expect([unknown.code, unknown.err.trim()]).toEqual([2, 'no data mapping for service "payments"; known: catalog']);
    const gone = await cli(['data', 'verify', 'catalog', '--monolith-db', `${d.urls.monolith}_gone`, '--service-db', d.urls.service]);
    expect([gone.code, gone.err.trim()]).toEqual([
      1,
      expect.stringMatching(/^strangler: a database refused or could not be reached: database "\S+_gone" does not exist \(3D000\)$/),
    ]);
    // The mapping named by the flag, as well as by DATA_MAPPING.
    const missing = await runCli(['data', 'backfill', 'catalog', '--mapping', LIBRARY_MAPPING]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('give --monolith-db and --service-db (or MONOLITH_DATABASE_URL and CATALOG_DATABASE_URL)');
  });
});
