import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type {} from '../src/testing/provided-context.ts';
import { databaseUrl } from '../src/database-url.ts';
import { dropDatabase } from '../src/databases.ts';
import { repoRoot } from '../src/config.ts';
import { spawnNpmStart } from '../src/testing/npm-start.ts';

const prefix = `loadtest_${randomBytes(3).toString('hex')}_`;
let stack: ChildProcess | undefined;
let proxyUrl = '';
let monolithUrl = '';
let dir = '';

/** The stack as `npm start` runs it (mixed: orders answered by the monolith and shadowed), on ports and databases of its own. */
beforeAll(async () => {
  // Without Redis, as on a machine that has none: the proxy follows its file.
  const started = await spawnNpmStart(prefix, { REDIS_URL: '' });
  ({ child: stack, dir } = started);
  proxyUrl = `http://127.0.0.1:${started.ports.proxy}`;
  monolithUrl = `http://127.0.0.1:${started.ports.monolith}`;
  if (!(await started.ready(50_000))) throw new Error(`the stack did not start:\n${started.output()}`);
}, 60_000);

afterAll(async () => {
  if (stack && stack.exitCode === null) {
    const exited = new Promise((r) => stack!.once('exit', r));
    stack.kill('SIGINT');
    await exited;
  }
  const server = inject('pgServerUrl');
  for (const name of ['monolith', 'auth', 'listings', 'orders', 'strangler']) await dropDatabase(server, `${prefix}${name}`);
  if (dir) await fs.rm(dir, { recursive: true, force: true });
}, 30_000);

/** `npm run bench:load` as a user runs it, against the running stack. */
function bench(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'stack/bench/load-bench.ts'), ...args], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

describe('npm run bench:load (stack/bench/load-bench.ts)', () => {
  it('when 5 users who all log in run the scenario with short think times, then every endpoint of the mix is hit with 0 errors, and every order it counts was placed once under its key and the cancelled ones are cancelled', async () => {
    const run = await bench([
      '--url',
      proxyUrl,
      '--users',
      '5',
      '--duration',
      '6',
      '--ramp',
      '1',
      '--think',
      '20-60',
      '--login-share',
      '1',
      '--json',
    ]);
    expect(run.code, run.err).toBe(0);
    // The progress line, once every 5 s when not on a terminal.
    expect(run.err).toMatch(/target 5 users: \d+ s measuring, 5 started, \d+ rps, p99 last 5 s [\d.]+ ms/);
    const [target] = JSON.parse(run.out) as {
      steps: {
        result: {
          errors: number;
          loggedIn: number;
          endpoints: Record<string, { requests: number; errors: object }>;
          orders: { placed: number; replayed: number; cancelled: number; keys: string[] };
        };
      }[];
    }[];
    const { result } = target!.steps[0]!;
    expect(result.loggedIn).toBe(5);
    expect(Object.keys(result.endpoints).sort()).toEqual([
      'GET /',
      'GET /?filters',
      'GET /?q',
      'GET /api/auth/me',
      'GET /api/listings',
      'GET /api/listings/:id',
      'GET /api/listings?filters',
      'GET /api/listings?q',
      'GET /api/orders',
      'GET /api/suppliers/:id',
      'GET /listings/:id',
      'GET /login',
      'GET /orders',
      'POST /api/auth/login',
      'POST /api/orders',
      'POST /api/orders (same key)',
      'POST /api/orders/:id/cancel',
    ]);
    for (const [name, e] of Object.entries(result.endpoints)) expect(e.errors, name).toEqual({});
    expect(result.errors).toBe(0);
    expect(result.orders.replayed).toBeGreaterThan(0);
    expect(result.orders.cancelled).toBeGreaterThan(0);

    // In the monolith's database (it serves orders in this preset): one order per key the
    // scenario counted, replays included, and exactly the cancelled ones cancelled.
    const db = new pg.Client({ connectionString: databaseUrl(inject('pgServerUrl'), `${prefix}monolith`) });
    await db.connect();
    try {
      const { rows } = await db.query<{ status: string; n: number }>(
        `SELECT o.status, count(*)::int AS n FROM idempotency_keys k JOIN orders o ON o.id = (k.response_body->'order'->>'id')::bigint
          WHERE k.key = ANY($1) GROUP BY o.status`,
        [result.orders.keys],
      );
      const by = Object.fromEntries(rows.map((r) => [r.status, r.n]));
      expect(result.orders.keys.length).toBe(result.orders.placed);
      expect((by.placed ?? 0) + (by.cancelled ?? 0)).toBe(result.orders.placed);
      expect(by.cancelled).toBe(result.orders.cancelled);
    } finally {
      await db.end();
    }
  }, 60_000);

  it("when a user pauses between pages, then the proxy of npm start keeps their connection open for 65 s, not 5, and an app keeps the proxy's connections as long", async () => {
    // A 5 s idle timer closed connections whose next request was already waiting while the
    // proxy was busy (resets), and the apps' closed connections the proxy was reusing (502s).
    const agent = new http.Agent({ keepAlive: true });
    const headersOf = (url: string) =>
      new Promise<http.IncomingHttpHeaders>((resolve, reject) =>
        http
          .get(url, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.headers));
          })
          .on('error', reject),
      );
    try {
      for (const url of [`${proxyUrl}/`, `${monolithUrl}/`]) {
        const headers = await headersOf(url);
        expect(headers.connection, url).toBe('keep-alive');
        expect(headers['keep-alive'], url).toBe('timeout=65');
      }
    } finally {
      agent.destroy();
    }
  });

  it('when an option is malformed, then it exits 2 saying which and how to write it', async () => {
    const run = await bench(['--url', proxyUrl, '--think', '3000-1000']);
    expect(run.code).toBe(2);
    expect(run.err).toContain('--think must be MIN-MAX in ms (1000-3000), got "3000-1000"');
    const presets = await bench(['--presets', 'monolith,halfway']);
    expect(presets.code).toBe(2);
    expect(presets.err).toContain('--presets: "halfway" is none of monolith, mixed, services');
  });
});
