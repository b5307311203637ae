import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createScratchDatabase, dropDatabase, type ScratchDatabase } from '@strangler/stack';
import { HttpClient } from '@strangler/stack/testing';
import { startTestMonolith, TEST_SESSION_SECRET, type TestMonolith } from './support/test-monolith.ts';

describe('health', () => {
  let app: TestMonolith;
  beforeAll(async () => {
    app = await startTestMonolith();
  });
  afterAll(() => app?.close());

  it('when the database answers, then /healthz and /readyz are 200', async () => {
    const client = new HttpClient(app.url);
    expect((await client.get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await client.get('/readyz')).body).toEqual({ status: 'ready' });
  });
});

describe('readiness without a database', () => {
  it('when the database goes away, then /readyz is 503 while /healthz stays 200', async () => {
    const app = await startTestMonolith();
    const client = new HttpClient(app.url);
    const { db } = (await app.db.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!;
    await dropDatabase(inject('pgServerUrl'), db);
    const ready = await client.get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe('database unreachable');
    expect((await client.get('/healthz')).status).toBe(200);
    await app.close();
  });
});

/** The real entry point, as `npm start` and the container run it. */
describe('monolith/src/server.ts', () => {
  let scratch: ScratchDatabase;
  beforeAll(async () => {
    scratch = await createScratchDatabase(inject('pgServerUrl'), 'monolith_entry');
  });
  afterAll(() => scratch?.drop());

  const start = async (env: Record<string, string>) => {
    const child = spawn(process.execPath, [path.resolve(import.meta.dirname, '../src/server.ts')], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited, output: () => output };
  };

  it('when DATABASE_URL is missing, then it exits 2 with a message naming it', async () => {
    const p = await start({ SESSION_SECRET: TEST_SESSION_SECRET });
    expect(await p.exited).toBe(2);
    expect(p.output()).toContain('DATABASE_URL is required');
  });

  it('when started, then it migrates, seeds, serves; on SIGTERM it finishes the request in flight and exits 0', async () => {
    const p = await start({ DATABASE_URL: scratch.url, SESSION_SECRET: TEST_SESSION_SECRET, PORT: '0', LOG_LEVEL: 'info' });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /"url":"(http:[^"]+)"/.exec(p.output());
        if (m) {
          clearInterval(timer);
          resolve(m[1]!);
        }
      }, 50);
      void p.exited.then(() => reject(new Error(`exited early: ${p.output()}`)));
    });
    expect(p.output()).toContain('"listings":360');
    const client = new HttpClient(url);
    expect((await client.post('/api/auth/login', { email: 'buyer@cacao.example', password: 'cacao-buyer-demo' })).status).toBe(200);

    // A request whose body is still arriving when SIGTERM comes must be answered, not cut.
    const { port } = new URL(url);
    const body = JSON.stringify({ email: 'buyer@cacao.example', password: 'cacao-buyer-demo' });
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let answer = '';
    socket.on('data', (d) => (answer += d));
    const closed = new Promise((r) => socket.once('close', r));
    socket.write(
      `POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    await new Promise((r) => setTimeout(r, 100));
    p.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    socket.write(body.slice(10));
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(await p.exited).toBe(0);
    expect(p.output()).toContain('draining and shutting down');
  });
});
