import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfill } from '../src/backfill.ts';
import { isRowRefusal, listDeadLetters, listFailing, refusalOf } from '../src/dead-letters.ts';
import { drain, pendingBySide } from '../src/replicate.ts';
import { startSyncServer } from '../src/sync-server.ts';
import { verify } from '../src/verify.ts';
import { createLogger } from '@strangler/service-kit/logger';
import { runCli } from '@strangler/stack/testing';
import { count, DATA_MAPPING, serviceDatabases, type ServiceDatabases } from './support/service-databases.ts';

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

  it("when a parent has not arrived yet, then its child is retried pass after pass but not set aside before the policy's time, and it lands once the parent does", async () => {
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

describe('a change the other side refuses (auth: one email, case aside, registered on both sides)', () => {
  let auth: ServiceDatabases;
  beforeAll(async () => {
    auth = await serviceDatabases('auth');
    await backfill(auth);
  });
  afterAll(() => auth?.close());

  it('when one change violates the unique lower(email), then the other changes of the batch are still applied, and the email is nowhere in what is kept', async () => {
    const user = `INSERT INTO users (email, name, role, password_hash) VALUES ($1, 'Twin', 'buyer', 'x') RETURNING id::text AS id`;
    await auth.pools.monolith.query(user, ['Twin.Sister@example.com']);
    await auth.pools.service.query(user, ['twin.sister@example.com']);
    await auth.pools.monolith.query(`UPDATE users SET name = 'Renamed on the monolith' WHERE id = 5`);
    const r = await drain(auth);
    expect(await count(auth.pools.service, `SELECT count(*) FROM users WHERE id = 5 AND name = 'Renamed on the monolith'`)).toBe(1);
    expect(r.failing.map((f) => [f.side, f.code, f.message])).toEqual([
      ['monolith', '23505', 'duplicate key value violates unique constraint "users_email_unique"'],
      ['service', '23505', 'duplicate key value violates unique constraint "users_email_unique"'],
    ]);
    expect(JSON.stringify((await auth.pools.service.query('SELECT * FROM strangler_apply_failures')).rows).toLowerCase()).not.toContain(
      'twin.sister',
    );
  });
});

describe('what is kept of a refusal', () => {
  it('when a bad value is refused, then the kept message says what was wrong without quoting the value; a constraint keeps its name; other errors fail the round', () => {
    expect(refusalOf({ code: '22P02', message: 'invalid input syntax for type bigint: "ana@example.com"' })).toEqual({
      code: '22P02',
      message: 'invalid input syntax for type bigint',
    });
    expect(refusalOf({ code: '22003', message: 'value "123456789012" is out of range for type integer' })).toEqual({
      code: '22003',
      message: 'value "…" is out of range for type integer',
    });
    const unique = {
      code: '23505',
      message: 'duplicate key value violates unique constraint "users_email_unique"',
      detail: 'Key (lower(email))=(ana@example.com) already exists.',
    };
    expect(refusalOf(unique)).toEqual({ code: '23505', message: 'duplicate key value violates unique constraint "users_email_unique"' });
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
      expect(await (await fetch(`${sync.url}/metrics`)).text()).toContain('strangler_sync_dead_letters{service="listings"} 2');
      const [status] = await (await fetch(`${sync.url}/status`)).json();
      expect(status.deadLetters).toMatchObject([
        { service: 'listings', side: 'monolith', table: 'suppliers', key: [onMonolith], code: '23505', attempts: 4 },
        { service: 'listings', side: 'service', table: 'suppliers', key: [onService], code: '23505', attempts: 4 },
      ]);
    } finally {
      await sync.close();
    }
    const env = { DATA_MAPPING, MONOLITH_DATABASE_URL: d.urls.monolith, LISTINGS_DATABASE_URL: d.urls.service };
    const json = await runCli(['data', 'status', 'listings', '--json'], env);
    expect(json.code, json.err).toBe(0);
    expect(JSON.parse(json.out)[0].deadLetters).toHaveLength(2);
    const text = await runCli(['data', 'status', 'listings'], env);
    expect(text.out).toContain('dead      2 dead letters');
    expect(text.out).toMatch(
      new RegExp(
        `#\\d+ suppliers ${onService} from the service: 23505 duplicate key value violates unique constraint "suppliers_owner_user_id_key"`,
      ),
    );
  }, 60_000);
});

describe('strangler data dead-letters (the CLI)', () => {
  const env = (): Record<string, string> => ({
    DATA_MAPPING,
    MONOLITH_DATABASE_URL: d.urls.monolith,
    LISTINGS_DATABASE_URL: d.urls.service,
    USER: 'ana',
  });
  const cli = (...args: string[]): ReturnType<typeof runCli> => runCli(['data', 'dead-letters', 'listings', ...args], env());

  it("when the operator keeps the writer's profile, deletes the stray and retries, then both sides hold the writer's profile and no dead letter is left", async () => {
    const list = await cli();
    expect(list.code, list.err).toBe(0);
    expect(list.out).toContain('listings: 2 dead letters');
    expect(list.out).toContain(
      `suppliers ${onMonolith} from the monolith: 23505 duplicate key value violates unique constraint "suppliers_owner_user_id_key"`,
    );
    const [writers, stray] = JSON.parse((await cli('--json')).out).deadLetters as { id: number }[];

    // The stray still holds the owner: the writer's profile is refused again.
    const early = await cli('--retry', String(writers!.id));
    expect([early.code, early.out.trim()]).toEqual([
      1,
      `#${writers!.id} suppliers ${onMonolith} from the monolith: still refused: 23505 duplicate key value violates unique constraint "suppliers_owner_user_id_key" (back in the outbox: retried, and set aside again if it keeps failing)`,
    ]);

    await d.pools.service.query('DELETE FROM suppliers WHERE id = $1', [onService]);
    const all = await cli('--retry', '--all');
    expect([all.code, all.out.trim()]).toEqual([0, `#${stray!.id} suppliers ${onService} from the service: applied`]);
    expect(await count(d.pools.service, 'SELECT count(*) FROM suppliers WHERE id = $1', [onMonolith])).toBe(1);
    expect((await verify(d)).find((v) => v.table === 'suppliers')?.equal).toBe(true);
    expect((await cli()).out.trim()).toBe('listings: no dead letters');
    const log = (await d.pools.service.query(`SELECT action, actor FROM strangler_dead_letter_log ORDER BY id`)).rows;
    expect(log).toEqual([
      { action: 'retried', actor: 'ana' },
      { action: 'retried', actor: 'ana' },
    ]);
  }, 60_000);

  it('when a dead letter is handled by hand, then --resolve drops it with who and why, and a later change of a row makes its dead letter moot', async () => {
    const m = (await d.pools.monolith.query(SUPPLIER, [90951, 'Second profile, monolith'])).rows[0].id as string;
    const s = (await d.pools.service.query(SUPPLIER, [90951, 'Second profile, service'])).rows[0].id as string;
    for (let i = 0; i < 3; i++) await drain(d, { deadLetter: AT_ONCE });
    const letters = await listDeadLetters(d.pools.service, 'listings');
    expect(letters.map((l) => l.key)).toEqual([[m], [s]]);

    // The stray deleted where it was made: its delete applies, so its dead letter is moot.
    await d.pools.service.query('DELETE FROM suppliers WHERE id = $1', [s]);
    await drain(d);
    expect((await listDeadLetters(d.pools.service, 'listings')).map((l) => l.key)).toEqual([[m]]);

    const resolved = await cli('--resolve', String(letters[0]!.id), '--reason', 'merged into the existing profile by hand');
    expect([resolved.code, resolved.out.trim()]).toEqual([
      0,
      `resolved #${letters[0]!.id} (suppliers ${m} from the monolith: 23505 duplicate key value violates unique constraint "suppliers_owner_user_id_key") by ana: merged into the existing profile by hand`,
    ]);
    expect(await listDeadLetters(d.pools.service, 'listings')).toEqual([]);
    const log = (
      await d.pools.service.query(
        `SELECT dead_letter_id::int AS letter, action, actor, reason FROM strangler_dead_letter_log ORDER BY strangler_dead_letter_log.id DESC LIMIT 2`,
      )
    ).rows;
    expect(log).toEqual([
      { letter: letters[0]!.id, action: 'resolved', actor: 'ana', reason: 'merged into the existing profile by hand' },
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
      '--retry takes a dead letter\'s number (as listed by `strangler data dead-letters listings`), not "abc"',
    ]);
    expect([both.code, both.err.trim()]).toEqual([2, 'give --retry or --resolve, not both']);
    expect([unknown.code, unknown.err.trim()]).toEqual([
      1,
      'listings has no dead letter #999 (see `strangler data dead-letters listings`)',
    ]);
    expect(unknownRetry.code).toBe(1);
  }, 60_000);
});
