import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../src/config.ts';
import { startPostgres } from '../src/postgres-server.ts';
import { freePort } from '../src/free-port.ts';


async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

// The path a fresh machine takes: no DATABASE_URL, so the stack runs PostgreSQL from the npm package.
describe('embedded PostgreSQL', () => {
  it('when started on an empty folder, then it initialises; restarted on the same folder, then the data is still there', async () => {
    const dataDir = path.join(repoRoot, '.data', `embedded-test-${randomBytes(4).toString('hex')}`);
    const port = await freePort();
    try {
      const first = await startPostgres(undefined, { dataDir, port });
      expect(first.kind).toBe('embedded');
      await query(first.url, 'CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$still here$$)');
      await first.stop();
      await expect(query(first.url, 'SELECT 1')).rejects.toThrow();

      const second = await startPostgres(undefined, { dataDir, port, ephemeral: true });
      expect(await query(second.url, 'SELECT v FROM kept')).toEqual([{ v: 'still here' }]);
      await second.stop();
      await expect(fs.access(dataDir)).rejects.toThrow();
    } finally {
      await fs.rm(dataDir, { recursive: true, force: true });
      await fs.rm(`${dataDir}.log`, { force: true });
    }
  });

  it('when the port is taken, then the error names the port and the variable to change', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    const dataDir = path.join(repoRoot, '.data', `embedded-test-${randomBytes(4).toString('hex')}`);
    try {
      await expect(startPostgres(undefined, { dataDir, port, ephemeral: true })).rejects.toThrow(new RegExp(`port ${port}.*EMBEDDED_PG_PORT`));
    } finally {
      blocker.close();
      await fs.rm(dataDir, { recursive: true, force: true });
      await fs.rm(`${dataDir}.log`, { force: true });
    }
  });

  it('when DATABASE_URL is given, then nothing is started and stop does nothing', async () => {
    const server = await startPostgres('postgres://u@127.0.0.1:1/x', { dataDir: '/nonexistent', port: 1 });
    expect(server).toMatchObject({ kind: 'external', url: 'postgres://u@127.0.0.1:1/x' });
    await server.stop();
  });
});
