import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfill } from '../src/backfill.ts';
import { isRowRefusal, listDeadLetters, listFailing, refusalOf } from '../src/dead-letters.ts';
import { drain, pendingBySide } from '../src/replicate.ts';
import { startSyncServer } from '../src/sync-server.ts';
import { verify } from '../src/verify.ts';
import { createLogger } from '@strangler/service-kit/logger';
import { runCli } from '@strangler/stack/testing';
import { isbn, LIBRARY_MAPPING, libraryDatabases } from './support/library-databases.ts';
import { count, type ServiceDatabases } from './support/sides.ts';

let d: ServiceDatabases;
beforeAll(async () => {
  d = await libraryDatabases();
  await backfill(d);
});
afterAll(() => d?.close());

const AUTHOR = `INSERT INTO authors (name, email) VALUES ($1, $2) RETURNING id::text AS id`;
const BOOK = `INSERT INTO books (isbn, writer_id, title) VALUES ($1, $2, $3)`;
/** An author only the monolith has: written with capture off, as if its change had been lost. */
const UNCAPTURED_AUTHOR = (id: number): string => `BEGIN; SELECT set_config('strangler.applying', 'on', true);
  INSERT INTO authors (id, name, email) VALUES (${id}, 'Uncaptured', 'uncaptured${id}@library.test'); COMMIT`;
/** Set aside at the third failed pass, however young: the tests need not wait out the default 10 s. */
const AT_ONCE = { attempts: 3, afterMs: 0 };
const EMAIL_TAKEN = 'duplicate key value violates unique constraint "authors_email_key"';

let onMonolith: string;
let onService: string;

describe('a change the other side refuses', () => {
  it('when one change violates a secondary unique key, then the other changes of the batch are still applied and replication keeps going', async () => {
    // One author signs up on both sides at once: two rows, two ids, one email.
    onMonolith = (await d.pools.monolith.query(AUTHOR, ['Signed up on the monolith', 'twin@library.test'])).rows[0].id as string;
    onService = (await d.pools.service.query(AUTHOR, ['Signed up on the service', 'twin@library.test'])).rows[0].id as string;
    await d.pools.monolith.query(`UPDATE books SET title = title || ' (2nd edition)' WHERE isbn IN ($1, $2)`, [isbn(10), isbn(11)]);
    await d.pools.service.query(`UPDATE titles SET title = 'Edited on the service' WHERE isbn = $1`, [isbn(12)]);

    const r = await drain(d);
    expect(
      await count(d.pools.service, `SELECT count(*) FROM titles WHERE isbn IN ($1, $2) AND title LIKE '%(2nd edition)'`, [
        isbn(10),
        isbn(11),
      ]),
    ).toBe(2);
    expect(
      await count(d.pools.monolith, `SELECT count(*) FROM books WHERE isbn = $1 AND title = 'Edited on the service'`, [isbn(12)]),
    ).toBe(1);
    // The two authors stay where they were made, each waiting for an operator.
    expect(await count(d.pools.service, 'SELECT count(*) FROM authors WHERE id = $1', [onMonolith])).toBe(0);
    expect(await count(d.pools.monolith, 'SELECT count(*) FROM authors WHERE id = $1', [onService])).toBe(0);
    expect([r.applied, r.strays, r.done]).toEqual([2, 1, false]);
    expect(await pendingBySide(d)).toMatchObject({ monolith: { changes: 1 }, service: { changes: 1 } });

    // Later changes flow past the stuck ones.
    await d.pools.monolith.query(`UPDATE books SET title = 'Later change' WHERE isbn = $1`, [isbn(13)]);
    await drain(d);
    expect(await count(d.pools.service, `SELECT count(*) FROM titles WHERE isbn = $1 AND title = 'Later change'`, [isbn(13)])).toBe(1);
  });

  it("when a refused change fails pass after pass, then the policy sets it aside as a dead letter: out of the outbox, its code and message kept, never the row's values", async () => {
    // Two passes so far (the drains above); set aside at the fourth failed pass in a row.
    const policy = { attempts: 4, afterMs: 0 };
    expect((await listFailing(d.pools.service, 'catalog')).map((f) => [f.side, f.attempts])).toEqual([
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
      ['monolith', 'authors', [onMonolith], '23505', EMAIL_TAKEN, 4],
      ['service', 'authors', [onService], '23505', EMAIL_TAKEN, 4],
    ]);
    expect([fourth.done, fourth.failing]).toEqual([true, []]);
    expect(await pendingBySide(d)).toMatchObject({ monolith: { changes: 0 }, service: { changes: 0 } });
    expect(await count(d.pools.service, 'SELECT count(*) FROM strangler_apply_failures')).toBe(0);
    const stored = JSON.stringify((await d.pools.service.query('SELECT * FROM strangler_dead_letters')).rows);
    expect(stored).not.toContain('twin@');
    expect(stored).not.toContain('Signed up');
  });

  it('when a change waits for a parent that comes later in the outbox, then the same drain applies it once the parent has landed', async () => {
    await d.pools.monolith.query(UNCAPTURED_AUTHOR(960));
    await d.pools.monolith.query(BOOK, ['978-960000', 960, 'Child before its parent']);
    await d.pools.monolith.query('UPDATE authors SET name = name WHERE id = 960');
    // One change per batch: the book is refused before its author is even read.
    const r = await drain(d, { batchSize: 1, deadLetter: AT_ONCE });
    expect([r.done, r.failing, r.deadLettered]).toEqual([true, [], []]);
    expect(await count(d.pools.service, `SELECT count(*) FROM titles WHERE isbn = '978-960000'`)).toBe(1);
    expect(await count(d.pools.service, 'SELECT count(*) FROM strangler_apply_failures')).toBe(0);
  });

  it("when a parent has not arrived yet, then its child is retried pass after pass but not set aside before the policy's time, and it lands once the parent does", async () => {
    await d.pools.monolith.query(UNCAPTURED_AUTHOR(961));
    await d.pools.monolith.query(BOOK, ['978-961000', 961, 'Waits for its author']);
    let r = await drain(d);
    for (let i = 0; i < 4; i++) r = await drain(d);
    expect(r.failing).toMatchObject([{ side: 'monolith', table: 'books', key: ['978-961000'], code: '23503', attempts: 5 }]);
    // The refusal names the service's own table and constraint: the row was written as the service names it.
    expect(r.failing[0]!.message).toBe('insert or update on table "titles" violates foreign key constraint "titles_author_id_fkey"');
    expect(r.deadLettered).toEqual([]);
    expect((await pendingBySide(d)).monolith.changes).toBe(1);
    await d.pools.monolith.query('UPDATE authors SET name = name WHERE id = 961');
    r = await drain(d);
    expect([r.done, r.failing]).toEqual([true, []]);
    expect(await count(d.pools.service, `SELECT count(*) FROM titles WHERE isbn = '978-961000'`)).toBe(1);
    expect(await count(d.pools.service, 'SELECT count(*) FROM strangler_apply_failures')).toBe(0);
  });
});

describe('a change the other side refuses (one title per author, case aside, catalogued on both sides)', () => {
  let lib: ServiceDatabases;
  beforeAll(async () => {
    lib = await libraryDatabases();
    await backfill(lib);
  });
  afterAll(() => lib?.close());

  it('when one change violates a unique expression index, then the other changes of the batch are still applied, and the title is nowhere in what is kept', async () => {
    // Author 1's new book catalogued on both sides under two ISBNs, its title differing only in case.
    await lib.pools.monolith.query(BOOK, ['978-555001', 1, 'The Twin Volume']);
    await lib.pools.service.query(`INSERT INTO titles (isbn, author_id, title) VALUES ('978-555002', 1, 'the twin volume')`);
    await lib.pools.monolith.query(`UPDATE authors SET name = 'Renamed on the monolith' WHERE id = 5`);
    const r = await drain(lib);
    expect(await count(lib.pools.service, `SELECT count(*) FROM authors WHERE id = 5 AND name = 'Renamed on the monolith'`)).toBe(1);
    // Each side refuses by its own index's name.
    expect(r.failing.map((f) => [f.side, f.table, f.code, f.message])).toEqual([
      ['monolith', 'books', '23505', 'duplicate key value violates unique constraint "titles_title_unique"'],
      ['service', 'titles', '23505', 'duplicate key value violates unique constraint "books_title_unique"'],
    ]);
    expect(JSON.stringify((await lib.pools.service.query('SELECT * FROM strangler_apply_failures')).rows).toLowerCase()).not.toContain(
      'twin volume',
    );
  });
});

describe('what is kept of a refusal', () => {
  it('when a bad value is refused, then the kept message says what was wrong without quoting the value; a constraint keeps its name; other errors fail the round', () => {
    expect(refusalOf({ code: '22P02', message: 'invalid input syntax for type bigint: "ana@library.test"' })).toEqual({
      code: '22P02',
      message: 'invalid input syntax for type bigint',
    });
    expect(refusalOf({ code: '22003', message: 'value "123456789012" is out of range for type integer' })).toEqual({
      code: '22003',
      message: 'value "…" is out of range for type integer',
    });
    const unique = {
      code: '23505',
      message: 'duplicate key value violates unique constraint "titles_title_unique"',
      detail: 'Key (author_id, lower(title))=(1, the twin volume) already exists.',
    };
    expect(refusalOf(unique)).toEqual({ code: '23505', message: 'duplicate key value violates unique constraint "titles_title_unique"' });
    expect([
      isRowRefusal(unique),
      isRowRefusal({ code: '40P01' }),
      isRowRefusal({ code: '42703' }),
      isRowRefusal(new Error('ECONNREFUSED')),
    ]).toEqual([true, false, false, false]);
  });
});

describe('dead letters shown', () => {
  it("when there are dead letters, then the replicator's /metrics and /status and `strangler data status` show them", async () => {
    const sync = await startSyncServer([d], { port: 0, host: '127.0.0.1', intervalMs: 20, log: createLogger('strangler-sync', 'silent') });
    try {
      expect(await (await fetch(`${sync.url}/metrics`)).text()).toContain('strangler_sync_dead_letters{service="catalog"} 2');
      const [status] = await (await fetch(`${sync.url}/status`)).json();
      expect(status.deadLetters).toMatchObject([
        { service: 'catalog', side: 'monolith', table: 'authors', key: [onMonolith], code: '23505', attempts: 4 },
        { service: 'catalog', side: 'service', table: 'authors', key: [onService], code: '23505', attempts: 4 },
      ]);
    } finally {
      await sync.close();
    }
    const env = { DATA_MAPPING: LIBRARY_MAPPING, MONOLITH_DATABASE_URL: d.urls.monolith, CATALOG_DATABASE_URL: d.urls.service };
    const json = await runCli(['data', 'status', 'catalog', '--json'], env);
    expect(json.code, json.err).toBe(0);
    expect(JSON.parse(json.out)[0].deadLetters).toHaveLength(2);
    const text = await runCli(['data', 'status', 'catalog'], env);
    expect(text.out).toContain('dead      2 dead letters');
    expect(text.out).toMatch(new RegExp(`#\\d+ authors ${onService} from the service: 23505 ${EMAIL_TAKEN}`));
  }, 60_000);
});

describe('strangler data dead-letters (the CLI)', () => {
  const env = (): Record<string, string> => ({
    DATA_MAPPING: LIBRARY_MAPPING,
    MONOLITH_DATABASE_URL: d.urls.monolith,
    CATALOG_DATABASE_URL: d.urls.service,
    USER: 'ana',
  });
  const cli = (...args: string[]): ReturnType<typeof runCli> => runCli(['data', 'dead-letters', 'catalog', ...args], env());

  it("when the operator keeps the writer's row, deletes the stray and retries, then both sides hold the writer's row and no dead letter is left", async () => {
    const list = await cli();
    expect(list.code, list.err).toBe(0);
    expect(list.out).toContain('catalog: 2 dead letters');
    expect(list.out).toContain(`authors ${onMonolith} from the monolith: 23505 ${EMAIL_TAKEN}`);
    const [writers, stray] = JSON.parse((await cli('--json')).out).deadLetters as { id: number }[];

    // The stray still holds the email: the writer's author is refused again.
    const early = await cli('--retry', String(writers!.id));
    expect([early.code, early.out.trim()]).toEqual([
      1,
      `#${writers!.id} authors ${onMonolith} from the monolith: still refused: 23505 ${EMAIL_TAKEN} (back in the outbox: retried, and set aside again if it keeps failing)`,
    ]);

    await d.pools.service.query('DELETE FROM authors WHERE id = $1', [onService]);
    const all = await cli('--retry', '--all');
    expect([all.code, all.out.trim()]).toEqual([0, `#${stray!.id} authors ${onService} from the service: applied`]);
    expect(await count(d.pools.service, 'SELECT count(*) FROM authors WHERE id = $1', [onMonolith])).toBe(1);
    expect((await verify(d)).find((v) => v.table === 'authors')?.equal).toBe(true);
    expect((await cli()).out.trim()).toBe('catalog: no dead letters');
    const log = (await d.pools.service.query(`SELECT action, actor FROM strangler_dead_letter_log ORDER BY id`)).rows;
    expect(log).toEqual([
      { action: 'retried', actor: 'ana' },
      { action: 'retried', actor: 'ana' },
    ]);
  }, 60_000);

  it('when a dead letter is handled by hand, then --resolve drops it with who and why, and a later change of a row makes its dead letter moot', async () => {
    const m = (await d.pools.monolith.query(AUTHOR, ['Second author, monolith', 'second@library.test'])).rows[0].id as string;
    const s = (await d.pools.service.query(AUTHOR, ['Second author, service', 'second@library.test'])).rows[0].id as string;
    for (let i = 0; i < 3; i++) await drain(d, { deadLetter: AT_ONCE });
    const letters = await listDeadLetters(d.pools.service, 'catalog');
    expect(letters.map((l) => l.key)).toEqual([[m], [s]]);

    // The stray deleted where it was made: its delete applies, so its dead letter is moot.
    await d.pools.service.query('DELETE FROM authors WHERE id = $1', [s]);
    await drain(d);
    expect((await listDeadLetters(d.pools.service, 'catalog')).map((l) => l.key)).toEqual([[m]]);

    const resolved = await cli('--resolve', String(letters[0]!.id), '--reason', 'merged into the existing author by hand');
    expect([resolved.code, resolved.out.trim()]).toEqual([
      0,
      `resolved #${letters[0]!.id} (authors ${m} from the monolith: 23505 ${EMAIL_TAKEN}) by ana: merged into the existing author by hand`,
    ]);
    expect(await listDeadLetters(d.pools.service, 'catalog')).toEqual([]);
    const log = (
      await d.pools.service.query(
        `SELECT dead_letter_id::int AS letter, action, actor, reason FROM strangler_dead_letter_log ORDER BY strangler_dead_letter_log.id DESC LIMIT 2`,
      )
    ).rows;
    expect(log).toEqual([
      { letter: letters[0]!.id, action: 'resolved', actor: 'ana', reason: 'merged into the existing author by hand' },
      { letter: letters[1]!.id, action: 'applied', actor: 'replicator', reason: 'a later copy of the row was applied' },
    ]);
  }, 60_000);

  it('when the input is wrong, then exit 2 saying what to give; an unknown dead letter exits 1 in one line', async () => {
    const [noReason, notANumber, both, unknown, unknownRetry] = await Promise.all([
      cli('--resolve', '1'),
      cli('--retry', 'abc'),
      cli('--retry', '1', '--resolve', '2', '--reason', 'x'),
      cli('--resolve', '999', '--reason', 'x'),
      cli('--retry', '999'),
    ]);
    expect([noReason.code, noReason.err.trim()]).toEqual([2, 'give --reason: why the dead letter can be dropped (recorded with it)']);
    expect([notANumber.code, notANumber.err.trim()]).toEqual([
      2,
      '--retry takes a dead letter\'s number (as listed by `strangler data dead-letters catalog`), not "abc"',
    ]);
    expect([both.code, both.err.trim()]).toEqual([2, 'give --retry or --resolve, not both']);
    expect([unknown.code, unknown.err.trim()]).toEqual([1, 'catalog has no dead letter #999 (see `strangler data dead-letters catalog`)']);
    expect([unknownRetry.code, unknownRetry.err.trim()]).toEqual([
      1,
      'catalog has no dead letter #999 (see `strangler data dead-letters catalog`)',
    ]);
  }, 60_000);
});
