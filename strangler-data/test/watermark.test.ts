import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfill } from '../src/backfill.ts';
import { tablesOn } from '../src/replicate.ts';
import { startSyncServer, type RunningSync } from '../src/sync-server.ts';
import { watermarkOf, Watermarks } from '../src/watermark.ts';
import { createLogger } from '@strangler/service-kit/logger';
import { libraryDatabases } from './support/library-databases.ts';
import type { ServiceDatabases } from './support/sides.ts';

// The replicator's watermark: "every change committed on the writer's side before W has been
// applied". Its loop is given a long pause here (60 s), so a round happens only when the test calls
// one or when someone waits for the watermark.

let d: ServiceDatabases;
let sync: RunningSync;
beforeAll(async () => {
  d = await libraryDatabases();
  await backfill(d);
  sync = await startSyncServer([d], { port: 0, host: '127.0.0.1', intervalMs: 60_000, log: createLogger('strangler-sync', 'silent') });
  // Its loop's first round done: from now on it pauses for 60 s between rounds.
  while (sync.replicator.rounds < 2) await new Promise((r) => setTimeout(r, 10));
});
afterAll(async () => {
  await sync?.close();
  await d?.close();
});

const ask = async (query: string): Promise<{ status: number; body: any }> => {
  const res = await fetch(`${sync.url}/watermark?${query}`);
  return { status: res.status, body: await res.json() };
};

const renameAuthor = async (name: string): Promise<number> => {
  await d.pools.monolith.query('UPDATE authors SET name = $1 WHERE id = 1', [name]);
  return Date.now();
};
const serviceName = async (): Promise<string> =>
  (await d.pools.service.query<{ name: string }>('SELECT name FROM authors WHERE id = 1')).rows[0]!.name;

describe('the replicator’s watermark', () => {
  it('when a change has been committed on the writer’s side, then /watermark passes that moment only once the change is in the service’s database', async () => {
    const committed = await renameAuthor('Author watermark one');
    const before = await ask(`service=catalog&at=${committed}`);
    expect(before).toMatchObject({ status: 200, body: { service: 'catalog', at: committed, reached: false } });
    expect(before.body.watermark).toBeLessThan(committed);
    expect(await serviceName()).not.toBe('Author watermark one');

    // A long poll: the caller waiting starts a round at once (not after the 60 s pause), and the
    // round that applies the change answers it, long before its wait would run out.
    const started = Date.now();
    const after = await ask(`service=catalog&at=${committed}&waitMs=5000`);
    expect(after).toMatchObject({ status: 200, body: { reached: true } });
    expect(after.body.watermark).toBeGreaterThanOrEqual(committed);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await serviceName()).toBe('Author watermark one');
  });

  it('when the watermark does not pass the moment within waitMs, then the caller is answered reached false once the wait is up', async () => {
    const marks = new Watermarks(['catalog']);
    marks.advance('catalog', 1_000);
    const started = Date.now();
    const waiting = marks.wait('catalog', 5_000, 300);
    marks.advance('catalog', 4_999);
    expect(await waiting).toEqual({ service: 'catalog', at: 5_000, watermark: 4_999, reached: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    // Never lowered; answered at once once passed.
    marks.advance('catalog', 10);
    expect(await marks.wait('catalog', 4_999, 0)).toMatchObject({ watermark: 4_999, reached: true });
  });

  it('when a change is still in the outbox, then the watermark stops before its capture, whatever the time', async () => {
    await renameAuthor('Author watermark three');
    const { rows } = await d.pools.monolith.query<{ at: number }>(
      `SELECT (extract(epoch FROM min(captured_at)) * 1000)::float8 AS at FROM strangler_outbox`,
    );
    const w = await watermarkOf(d.pools.monolith, tablesOn(d, 'monolith'));
    expect(w).toBeLessThan(rows[0]!.at);
    await sync.replicator.round();
    expect(await watermarkOf(d.pools.monolith, tablesOn(d, 'monolith'))).toBeGreaterThan(rows[0]!.at);
  });

  it.each([
    ['at=1', 400, 'bad_request', /service=/],
    ['service=catalog', 400, 'bad_request', /at=<epoch milliseconds>/],
    ['service=catalog&at=soon', 400, 'bad_request', /at=<epoch milliseconds>/],
    ['service=catalog&at=1&waitMs=60000', 400, 'bad_request', /waitMs must be .* from 0 to 10000/],
    ['service=payments&at=1', 404, 'not_found', /No service named payments is replicated here; try catalog/],
  ])('when /watermark is asked %s, then it answers %i %s saying what to fix', async (query, status, code, message) => {
    const r = await ask(query);
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
    expect(r.body.error.message).toMatch(message);
  });
});
