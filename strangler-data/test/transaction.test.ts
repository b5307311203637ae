import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type {} from '@strangler/stack/testing/provided-context';
import { inCopyTransaction, inTransaction } from '../src/transaction.ts';

let killer: pg.Client;
let pool: pg.Pool;
const released: unknown[] = [];

beforeAll(async () => {
  killer = new pg.Client({ connectionString: inject('pgServerUrl') });
  await killer.connect();
  pool = new pg.Pool({ connectionString: inject('pgServerUrl'), max: 1 });
  pool.on('release', (err) => released.push(err));
});
afterAll(async () => {
  await pool?.end();
  await killer?.end();
});

/** Ends the transaction's connection from another session while a statement of it runs, so its ROLLBACK fails too. */
async function terminatedMidTransaction(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  // Its failure is caught at once: it may come before the kill's own answer.
  const failure = client.query('SELECT pg_sleep(5)').then(
    () => undefined,
    (err: unknown) => err,
  );
  await new Promise((r) => setTimeout(r, 100));
  await killer.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
  const err = await failure;
  if (err) throw err;
}

describe('inTransaction', () => {
  for (const [name, run] of [
    ['inTransaction', inTransaction],
    ['inCopyTransaction', inCopyTransaction],
  ] as const) {
    it(`when ROLLBACK itself fails (${name}), then the client is destroyed, not returned to the pool, and the process does not crash on the lost connection`, async () => {
      released.length = 0;
      await expect(run(pool, terminatedMidTransaction)).rejects.toThrow(/terminating connection/);
      expect(released).toHaveLength(1);
      expect(released[0]).toBeInstanceOf(Error);
      expect(pool.totalCount).toBe(0);
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      expect(pool.totalCount).toBe(1);
    });
  }

  it('when a copy transaction commits, then its writes were made with the applying flag on, and the flag does not outlive it', async () => {
    const inside = await inCopyTransaction(
      pool,
      async (c) => (await c.query<{ v: string }>(`SELECT current_setting('strangler.applying', true) AS v`)).rows[0]!.v,
    );
    expect(inside).toBe('on');
    const after = (await pool.query<{ v: string | null }>(`SELECT current_setting('strangler.applying', true) AS v`)).rows[0]!.v;
    expect(after === null || after === '').toBe(true);
  });
});
