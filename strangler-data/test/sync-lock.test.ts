import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type {} from '@strangler/stack/testing/provided-context';
import { withSyncLock, type ServiceData } from '../src/replicate.ts';

let killer: pg.Client;
let pool: pg.Pool;
let data: ServiceData;
const released: unknown[] = [];

beforeAll(async () => {
  killer = new pg.Client({ connectionString: inject('pgServerUrl') });
  await killer.connect();
  pool = new pg.Pool({ connectionString: inject('pgServerUrl'), max: 1 });
  pool.on('release', (err) => released.push(err));
  // Only the service's pool and name are used by the lock.
  data = {
    mapping: { service: `lock_test_${Math.random().toString(36).slice(2, 8)}` },
    pools: { service: pool, monolith: pool },
  } as unknown as ServiceData;
});
afterAll(async () => {
  await pool?.end();
  await killer?.end();
});

describe('withSyncLock', () => {
  it('when the lock’s connection is terminated while the work runs, then the process does not crash, the loss is reported, and the client is destroyed so the next lock takes a fresh session', async () => {
    const work = withSyncLock(data, async () => {
      const { rows } = await killer.query<{ pid: number }>(
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = hashtext($1)::oid`,
        [data.mapping.service],
      );
      expect(rows).toHaveLength(1);
      await killer.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await new Promise((r) => setTimeout(r, 200));
      return 'done';
    });
    await expect(work).rejects.toThrow();
    expect(released.at(-1)).toBeInstanceOf(Error);
    expect(pool.totalCount).toBe(0);
    expect(await withSyncLock(data, async () => 'again')).toBe('again');
  });
});
