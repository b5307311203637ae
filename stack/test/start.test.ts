import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type {} from '../src/testing/provided-context.ts';
import { dropDatabase } from '../src/databases.ts';
import { loadStackConfig, repoRoot } from '../src/config.ts';
import { freePort } from '../src/free-port.ts';
import { Redis } from 'ioredis';
import { spawnNpmStart } from '../src/testing/npm-start.ts';

/** The run's shared route table out of the machine's Redis again (its keys are the run's own prefix). */
async function forgetStore(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
  } catch {
    // No Redis to clean: the stack ran on its file.
  } finally {
    redis.disconnect();
  }
}

describe('loadStackConfig', () => {
  it('when ports or the prefix are malformed, then it says which variable and why', () => {
    expect(() => loadStackConfig({ MONOLITH_PORT: '70000' })).toThrow(/MONOLITH_PORT must be a port number/);
    expect(() => loadStackConfig({ EMBEDDED_PG_PORT: 'abc' })).toThrow(/EMBEDDED_PG_PORT/);
    expect(() => loadStackConfig({ STRANGLER_DB_PREFIX: 'Bad-Prefix' })).toThrow(/STRANGLER_DB_PREFIX/);
    expect(() => loadStackConfig({ STRANGLER_PRESET: 'half' })).toThrow(
      /STRANGLER_PRESET must be one of monolith, mixed, services, got "half"/,
    );
    expect(loadStackConfig({}).embeddedPort).toBe(54329);
    expect(loadStackConfig({}).servicePorts).toEqual({ auth: 3101, listings: 3102, orders: 3103 });
  });
});

/** `npm start` as a user runs it: the same entry, a real PostgreSQL, every app, the replicator and the proxy. */
describe('npm start (stack/src/start.ts)', () => {
  it('when started with a preset, then the proxy fronts the monolith and the services as the preset routes them, the CLI finds the stack, and Ctrl-C stops everything with exit 0', async () => {
    const prefix = `stack_${randomBytes(3).toString('hex')}_`;
    const stack = await spawnNpmStart(prefix, { ADMIN_TOKEN: 'stack-test-admin-token-0123456789' });
    const { child, env, dir, exited } = stack;
    const { monolith: monolithPort, listings: listingsPort, sync: syncPort, proxy: port, admin: adminPort } = stack.ports;
    const routes = env.STRANGLER_ROUTES!;
    try {
      await stack.ready();
      expect(stack.output()).toContain(
        `Cacao Market: http://127.0.0.1:${port}   (through the strangler proxy; the monolith itself is on :${monolithPort})`,
      );
      expect(stack.output()).toContain('(preset mixed: auth → service, listings → service, orders → shadow)');
      expect(await fs.readFile(routes, 'utf8')).toContain(`listings: { url: "http://127.0.0.1:${listingsPort}" }`);
      const explain = async (method: string, p: string) =>
        (
          await fetch(`http://127.0.0.1:${adminPort}/__strangler/explain?method=${method}&path=${p}`, {
            headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` },
          })
        ).json();
      expect(await explain('GET', '/api/listings')).toMatchObject({ route: { name: 'listings', group: 'listings' }, target: 'listings' });
      expect(await explain('POST', '/api/orders')).toMatchObject({ route: { name: 'orders' }, mode: 'shadow', target: 'monolith' });
      expect(stack.output()).toMatch(/buyer\s+buyer@cacao\.example\s+password: cacao-buyer-demo/);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<h1>Cacao listings</h1>');
      // Served by the listings service, from the rows copied out of the seeded monolith.
      const api = await fetch(`http://127.0.0.1:${port}/api/listings?pageSize=1`);
      expect((await api.json()).total).toBeGreaterThanOrEqual(300);
      const login = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'buyer@cacao.example', password: 'cacao-buyer-demo' }),
      });
      expect(login.status).toBe(200);
      // Orders are shadowed: the monolith answers, the orders service gets a copy, the results go to the strangler database.
      const cookie = login.headers
        .getSetCookie()
        .find((c) => c.startsWith('cacao_session='))!
        .split(';')[0]!;
      for (let i = 0; i < 5; i++) expect((await fetch(`http://127.0.0.1:${port}/api/orders`, { headers: { cookie } })).status).toBe(200);

      // The CLI finds the running stack through the stack file next to the route table.
      const status = await runCli(['data', 'status', '--json'], { PATH: env.PATH, STRANGLER_STACK_FILE: path.join(dir, 'stack.json') });
      expect(status.code, status.err).toBe(0);
      expect(JSON.parse(status.out).map((s: { service: string; writer: string }) => [s.service, s.writer])).toEqual([
        ['auth', 'service'],
        ['listings', 'service'],
        ['orders', 'monolith'],
      ]);
      expect((await fetch(`http://127.0.0.1:${syncPort}/metrics`)).status).toBe(200);

      // With Redis the proxy serves the table from the shared store: a flip through the CLI reaches
      // it, is audited, and is written back to the file (so a restart keeps it). Without, the file.
      const stackEnv = { PATH: env.PATH, STRANGLER_STACK_FILE: path.join(dir, 'stack.json') };
      const flip = await runCli(['flip', 'orders', '--to', 'monolith', '--reason', 'stack test', '--yes'], stackEnv);
      expect(flip.code, flip.err).toBe(0);
      expect(await explain('POST', '/api/orders')).toMatchObject({ route: { name: 'orders' }, mode: 'monolith' });
      for (let i = 0; i < 50 && !(await fs.readFile(routes, 'utf8')).includes('orders: { mode: monolith'); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(await fs.readFile(routes, 'utf8')).toContain('orders: { mode: monolith, target: orders }');
      if (env.REDIS_URL) {
        expect(stack.output()).toContain(`Shared table: in Redis (strangler:${prefix}routes)`);
        const history = await runCli(['history', 'orders', '--json'], stackEnv);
        expect(JSON.parse(history.out)[0]).toMatchObject({ kind: 'flip', group: 'orders', reason: 'stack test' });
        expect((await runCli(['status'], stackEnv)).code).toBe(0);
      }
      const back = await runCli(['flip', 'orders', '--to', 'shadow', '--reason', 'as the preset has it', '--yes'], stackEnv);
      expect(back.code, back.err).toBe(0);
      let orders: { samples: number; adjustedMismatchRate: number } | undefined;
      for (let i = 0; i < 50 && !orders; i++) {
        const report = await runCli(['report', '--json'], { PATH: env.PATH, STRANGLER_STACK_FILE: path.join(dir, 'stack.json') });
        orders = JSON.parse(report.out || '{"routes":[]}').routes.find((r: { route: string }) => r.route === 'orders');
        if (!orders) await new Promise((r) => setTimeout(r, 200));
      }
      // The orders service answers from the rows copied out of the monolith: the same answers.
      expect(orders).toMatchObject({ samples: 5, adjustedMismatchRate: 0 });

      // Regression: a second `npm start` must fail on the ports before it touches the database.
      const second = spawn(process.execPath, [path.join(repoRoot, 'stack/src/start.ts')], {
        env: { ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let secondOut = '';
      second.stderr.on('data', (d) => (secondOut += d));
      expect(await new Promise((resolve) => second.on('exit', resolve))).toBe(1);
      expect(secondOut).toContain(`port ${monolithPort} (for monolith) is already in use`);
      expect((await fetch(`http://127.0.0.1:${port}/api/listings?pageSize=1`)).status).toBe(200);

      child.kill('SIGINT');
      expect(await exited).toBe(0);
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    } finally {
      child.kill('SIGKILL');
      for (const db of ['monolith', 'auth', 'listings', 'orders', 'strangler']) await dropDatabase(inject('pgServerUrl'), `${prefix}${db}`);
      await fs.rm(dir, { recursive: true, force: true });
      await forgetStore(env.REDIS_URL, `strangler:${prefix}routes:`);
    }
    // Its own wait for the banner is 60 s: on a loaded machine the stack takes longer than the default 20 s.
  }, 120_000);
});

describe('npm start where the embedded PostgreSQL cannot run', () => {
  it.skipIf(process.getuid?.() !== 0)(
    'when run as root with STRANGLER_DATA_DIR where the postgres user cannot enter, then it stops before starting anything with one line and exit code 2',
    async () => {
      const home = await fs.mkdtemp(path.join(os.tmpdir(), 'strangler-root-home-'));
      await fs.chmod(home, 0o700);
      const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
      const names = [
        'MONOLITH_PORT',
        'AUTH_PORT',
        'LISTINGS_PORT',
        'ORDERS_PORT',
        'SYNC_PORT',
        'PROXY_PORT',
        'ADMIN_PORT',
        'EMBEDDED_PG_PORT',
      ];
      // The data folder's own parent is made enterable; the home folder above it is not.
      const dataDir = path.join(home, 'clone/.data/postgres');
      const env = {
        PATH: process.env.PATH ?? '',
        STRANGLER_DATA_DIR: dataDir,
        STRANGLER_ROUTES: path.join(home, 'routes.yaml'),
        ...Object.fromEntries(names.map((n, i) => [n, String(ports[i])])),
      };
      const child = spawn(process.execPath, [path.join(repoRoot, 'stack/src/start.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(2);
        expect(err.trim().split('\n')).toEqual([
          `npm start cannot run the embedded PostgreSQL: the postgres user (PostgreSQL will not run as root) cannot enter ${home}, on the way to the data folder ${dataDir}: set STRANGLER_DATA_DIR to a folder it can reach (e.g. under /var/lib/strangler), or DATABASE_URL`,
        ]);
        expect(out).not.toContain('initialising');
        await expect(fs.access(dataDir)).rejects.toThrow();
      } finally {
        child.kill('SIGINT');
        await fs.rm(home, { recursive: true, force: true });
      }
    },
  );
});

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'strangler-cli/src/strangler.ts'), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}
