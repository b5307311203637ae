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


describe('loadStackConfig', () => {
  it('when ports or the prefix are malformed, then it says which variable and why', () => {
    expect(() => loadStackConfig({ MONOLITH_PORT: '70000' })).toThrow(/MONOLITH_PORT must be a port number/);
    expect(() => loadStackConfig({ EMBEDDED_PG_PORT: 'abc' })).toThrow(/EMBEDDED_PG_PORT/);
    expect(() => loadStackConfig({ STRANGLER_DB_PREFIX: 'Bad-Prefix' })).toThrow(/STRANGLER_DB_PREFIX/);
    expect(loadStackConfig({}).embeddedPort).toBe(54329);
  });
});

/** `npm start` as a user runs it: the same entry, a real PostgreSQL, a real monolith. */
describe('npm start (stack/src/start.ts)', () => {
  it('when started, then the proxy fronts the monolith, the URL and demo logins are printed, and Ctrl-C stops everything with exit 0', async () => {
    const prefix = `stack_${randomBytes(3).toString('hex')}_`;
    const [monolithPort, port, adminPort] = [await freePort(), await freePort(), await freePort()];
    const routes = path.join(os.tmpdir(), `${prefix}routes.yaml`);
    const env = {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: inject('pgServerUrl'),
        STRANGLER_DB_PREFIX: prefix,
        MONOLITH_PORT: String(monolithPort),
        PROXY_PORT: String(port),
        ADMIN_PORT: String(adminPort),
        STRANGLER_ROUTES: routes,
        LOG_LEVEL: 'warn',
    };
    const child = spawn(process.execPath, [path.join(repoRoot, 'stack/src/start.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 60_000;
      while (!output.includes('Ctrl-C to stop') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      expect(output).toContain(`Cacao Market: http://127.0.0.1:${port}   (through the strangler proxy; the monolith itself is on :${monolithPort})`);
      expect(output).toContain(`Route table:  `);
      expect(await fs.readFile(routes, 'utf8')).toContain(`url: "http://127.0.0.1:${monolithPort}"`);
      const explain = await (await fetch(`http://127.0.0.1:${adminPort}/__strangler/explain?method=GET&path=/api/listings`)).json();
      expect(explain).toMatchObject({ route: { name: 'api' }, target: 'monolith' });
      expect(output).toMatch(/buyer\s+buyer@cacao\.example\s+password: cacao-buyer-demo/);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<h1>Cacao listings</h1>');
      const api = await fetch(`http://127.0.0.1:${port}/api/listings?pageSize=1`);
      expect((await api.json()).total).toBeGreaterThanOrEqual(300);

      // Regression: a second `npm start` must fail on the ports before it touches the database.
      const second = spawn(process.execPath, [path.join(repoRoot, 'stack/src/start.ts')], { env: { ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
      await dropDatabase(inject('pgServerUrl'), `${prefix}monolith`);
      await fs.rm(routes, { force: true });
    }
  });
});
