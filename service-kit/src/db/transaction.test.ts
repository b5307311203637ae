import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase, type Database } from './database.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgServerUrl: string;
  }
}

const server = inject('pgServerUrl');
let killer: pg.Client;
let db: Database;

beforeAll(async () => {
  killer = new pg.Client({ connectionString: server });
  await killer.connect();
  db = createDatabase({ connectionString: server, max: 1, applicationName: 'transaction-test' });
});
afterAll(async () => {
  await db?.close();
  await killer?.end();
});

/** Ends the transaction's connection from another session while a statement of it runs, so its ROLLBACK fails too. */
async function terminatedMidTransaction(tx: { query: Database['query'] }): Promise<number> {
  const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  // Its failure is caught at once: it may come before the kill's own answer.
  const failure = tx.query('SELECT pg_sleep(5)').then(
    () => undefined,
    (err: unknown) => err,
  );
  await new Promise((r) => setTimeout(r, 100));
  await killer.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
  const err = await failure;
  if (err) throw err;
  return rows[0]!.pid;
}

describe('withTransaction', () => {
  it('when ROLLBACK itself fails because the connection was lost mid-transaction, then the transaction’s error is thrown (the process does not crash on the lost client) and the next query runs on a fresh connection', async () => {
    let killed = 0;
    await expect(db.withTransaction(async (tx) => (killed = await terminatedMidTransaction(tx)))).rejects.toThrow(/terminating connection/);
    const { rows } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    expect(rows[0]!.pid).not.toBe(killed);
  });
});
