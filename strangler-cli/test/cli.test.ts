import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from '@strangler/proxy/testing';
import { table } from '@strangler/proxy/testing';
import { CLI, runCli } from '@strangler/stack/testing';

const run = runCli;
let dir: string;

const GOOD = table(
  { monolith: 'http://127.0.0.1:3000', listings: 'http://127.0.0.1:3102' },
  `  - name: listings-read
    match: { methods: [GET], path: /api/listings/:id? }
    mode: service
    target: listings`,
);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strangler-cli-'));
  await fs.writeFile(path.join(dir, 'good.yaml'), GOOD);
  await fs.writeFile(path.join(dir, 'canary.yaml'), GOOD.replace('mode: service', 'mode: canary\n    weight: 10'));
  await fs.writeFile(
    path.join(dir, 'bad.yaml'),
    GOOD.replace('target: listings', 'target: nowhere').replace('/api/listings/:id?', '/api/*/x'),
  );
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

describe('strangler routes check', () => {
  it('when the table is valid, then exit 0 with a summary', async () => {
    const r = await run(['routes', 'check', path.join(dir, 'good.yaml')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/good\.yaml: ok — 1 routes, 2 upstreams, default monolith/);
  });

  it('when it is invalid, then exit 1 with each problem as FILE:LINE', async () => {
    const r = await run(['routes', 'check', path.join(dir, 'bad.yaml')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('bad.yaml:7: routes.0.match.path: path "/api/*/x": * is only allowed as the last segment');
    expect(r.err).toContain('bad.yaml:9: routes.0.target: unknown upstream "nowhere"; known: monolith, listings');
  });

  it('when the file is missing, then exit 1 saying so', async () => {
    const r = await run(['routes', 'check', path.join(dir, 'missing.yaml')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot read it (ENOENT)');
  });
});

describe('strangler routes explain', () => {
  it('when asked about a request, then it names the rule, its line, the target and why', async () => {
    const r = await run(['routes', 'explain', 'get', '/api/listings/7', '--routes', path.join(dir, 'good.yaml')]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('rule:     listings-read (line 6, group listings-read)');
    expect(r.out).toContain('target:   listings (falls back to monolith)');
    const other = await run(['routes', 'explain', 'POST', '/api/orders', '-H', 'x-beta: 1'], { ROUTES_FILE: path.join(dir, 'good.yaml') });
    expect(other.out).toContain('rule:     none (default)');
    expect(other.out).toContain('target:   monolith');
    const refused = await run(['routes', 'explain', 'GET', '/api/..%2fadmin', '--routes', path.join(dir, 'good.yaml')]);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('400');
  });
});

describe('strangler routes diff', () => {
  it('when a route moves from service to a canary, then the kinds of request that change are listed', async () => {
    const r = await run(['routes', 'diff', path.join(dir, 'good.yaml'), path.join(dir, 'canary.yaml')]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('GET     /api/listings/:param');
    expect(r.out).toContain('listings-read: service → listings');
    expect(r.out).toContain('listings-read: canary 10% → listings (else monolith)');
    expect(r.out).toContain('2 kind(s) of request change handling');
    expect((await run(['routes', 'diff', path.join(dir, 'good.yaml'), path.join(dir, 'good.yaml')])).out).toContain(
      'no request changes handling',
    );
  });
});

describe('strangler start', () => {
  let upstream: FakeUpstream;
  beforeAll(async () => {
    upstream = await new FakeUpstream('monolith').start();
  });
  afterAll(() => upstream?.close());

  it('when the table is invalid, then it refuses to start, exit 2, with the problems', async () => {
    const r = await run(['start', '--routes', path.join(dir, 'bad.yaml')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('is not a valid route table');
  });

  it('when a whole-number setting is malformed, then it refuses to start, exit 2, naming the variable and its range', async () => {
    const r = await run(['start', '--routes', path.join(dir, 'good.yaml')], { MAX_CONNECTIONS: '12.5' });
    expect(r.code).toBe(2);
    expect(r.err).toContain('strangler: MAX_CONNECTIONS must be a whole number from 1 to 1000000, got "12.5"');
  });

  it('when SIGTERM arrives, then the request in flight is answered and the process exits 0', async () => {
    upstream.behaviour = { kind: 'ok', delayMs: 500 };
    const file = path.join(dir, 'live.yaml');
    await fs.writeFile(file, table({ monolith: upstream.url }, ''));
    const child = spawn(process.execPath, [CLI, 'start', '--routes', file, '--port', '0', '--admin-port', '0'], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 10_000;
    while (!/"url":"(http:[^"]+)"/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const url = /"url":"(http:[^"]+)"/.exec(out)![1]!;
    const inFlight = fetch(`${url}/slow`);
    await new Promise((r) => setTimeout(r, 150));
    child.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await exited).toBe(0);
    expect(out).toContain('draining and shutting down');
    await expect(fetch(`${url}/after`)).rejects.toThrow();
    upstream.behaviour = { kind: 'ok' };
  });
});
