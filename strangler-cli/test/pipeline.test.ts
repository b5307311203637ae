import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { compileRouteTable, editUpstream, groupState, storeTarget, type TableTarget } from '@strangler/proxy';
import { steadyLoad } from '@strangler/proxy/testing';
import { dropDatabase, isAlive } from '@strangler/stack';
import { askStack, type ControlledProcess } from '@strangler/stack/control-client';
import { runCli, spawnNpmStart } from '@strangler/stack/testing';
import type {} from '@strangler/stack/testing/provided-context';

/**
 * `strangler pipeline orders` against a real `npm start` (every app, the replicator, the proxy on
 * the shared store in Redis, on the test server's PostgreSQL), from its Deploy stage: BuildAndTest's
 * commands are checked through the dry run, not run nested inside the suite. The gate is a planted
 * contract (node:test files): one that fails against green, one that passes. The orders group's
 * cutover is shortened for the test: one canary step of 50 %, baked 2 s, 10 requests a side, and a
 * readiness gate of 10 shadow samples.
 */

const ADMIN_TOKEN = 'pipeline-test-admin-token-0123456789';
let dir: string;
let stack: ChildProcess;
let output: () => string;
let env: Record<string, string>;
let cliEnv: Record<string, string>;
let proxyUrl: string;
let target: TableTarget;

const processes = async (): Promise<ControlledProcess[]> =>
  (await askStack(path.join(dir, 'stack.sock'), 'GET', '/processes')).body as ControlledProcess[];

/** A contract file for the gate: it calls the orders API through the proxy with the gate's preview headers. */
async function plantGate(name: string, assertion: string): Promise<string> {
  const file = path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.test.mjs`);
  await fs.writeFile(
    file,
    `import { test } from 'node:test';
import assert from 'node:assert/strict';
test(${JSON.stringify(name)}, async () => {
  const res = await fetch(process.env.E2E_BASE_URL + '/api/orders', {
    headers: { 'x-strangler-preview': process.env.E2E_PREVIEW, 'x-strangler-token': process.env.E2E_ADMIN_TOKEN },
  });
  ${assertion}
});
`,
  );
  return `node --test ${file}`;
}

beforeAll(async () => {
  const prefix = `pipe_${randomBytes(3).toString('hex')}_`;
  const started = await spawnNpmStart(prefix, { ADMIN_TOKEN });
  ({ dir, env, child: stack } = started);
  proxyUrl = `http://127.0.0.1:${started.ports.proxy}`;
  output = started.output;
  if (!(await started.ready())) throw new Error(`npm start did not come up:\n${output()}`);
  cliEnv = { STRANGLER_STACK_FILE: path.join(dir, 'stack.json') };
  target = await storeTarget(env.REDIS_URL!, `strangler:${prefix}routes`);
  // The test's short cutover for orders (defaults: steps 1, 10, 50 of 600 s each, 200 requests, 1 000 samples).
  const from = await target.read();
  const doc = parseDocument(from.text);
  doc.setIn(['groups', 'orders', 'shadow'], doc.createNode({ sampleRate: 1, gate: { minSamples: 10, minScore: 50 } }, { flow: true }));
  doc.setIn(
    ['groups', 'orders', 'cutover'],
    doc.createNode({ steps: [50], bakeSeconds: 2, minRequests: 10, p99SlackMs: 250 }, { flow: true }),
  );
  await target.write(from, doc.toString(), { actor: 'test', reason: 'a short cutover for the test', kind: 'push', diff: [] });
}, 90_000);

afterAll(async () => {
  if (stack && stack.exitCode === null) {
    const ran = await processes().catch(() => []);
    const exited = new Promise((r) => stack.once('exit', r));
    stack.kill('SIGINT');
    await exited;
    // Ctrl-C stops every process the stack ran, a promoted green included.
    for (const p of ran) expect(isAlive(p.pid!), p.name).toBe(false);
  }
  // The run's databases and its keys in the machine's Redis, gone again.
  for (const db of ['monolith', 'auth', 'listings', 'orders', 'strangler'])
    await dropDatabase(env.DATABASE_URL!, `${env.STRANGLER_DB_PREFIX}${db}`);
  const docs = target?.documents;
  const keys = docs ? await docs.redis.keys(`${docs.prefix}*`) : [];
  if (keys.length) await docs!.redis.del(...keys);
  target?.close();
  await fs.rm(dir, { recursive: true, force: true });
}, 60_000);

describe('strangler pipeline (the local pipeline)', () => {
  it('when asked for a dry run, then it prints every stage of the shared list with BuildAndTest’s commands, in order, and runs nothing', async () => {
    const r = await runCli(['pipeline', 'orders', '--dry-run'], cliEnv);
    expect(r.code, r.err).toBe(0);
    const stages = [...r.out.matchAll(/^▶ (\w+) — /gm)].map((m) => m[1]);
    expect(stages).toEqual(['Source', 'BuildAndTest', 'Image', 'Deploy', 'Record', 'Cutover']);
    expect(r.out).toContain('APP=extracted/orders npm run typecheck');
    expect(r.out).toContain('APP=extracted/orders npm run lint');
    expect(r.out).toContain(
      'APP=extracted/orders REDIS_URL=redis://127.0.0.1:6379 npm test -- --project api "$APP" contract-tests/contracts',
    );
    expect(r.out).toContain('E2E_PREVIEW=group:orders=orders-green');
    expect(r.out).not.toContain(ADMIN_TOKEN);
  });

  it('when there is no stack, or the service is not one deployed blue/green, then it says so in one line, exit 2', async () => {
    const none = await runCli(['pipeline', 'orders'], { STRANGLER_STACK_FILE: path.join(dir, 'absent.json') });
    expect(none.code).toBe(2);
    expect(none.err.trim()).toMatch(/^no running npm start found .*start the stack first$/);
    const proxy = await runCli(['pipeline', 'proxy'], cliEnv);
    expect(proxy.code).toBe(2);
    expect(proxy.err).toContain('no app "proxy" to deploy blue/green: one of monolith, auth, listings, orders');
    const stage = await runCli(['pipeline', 'orders', '--from', 'Approve'], cliEnv);
    expect(stage.code).toBe(2);
    expect(stage.err).toContain('--from Approve: no such stage here');
  });

  it('when the gate fails against green (a planted contract), then blue serves on, the route table is as it was, green is stopped, and the failing test is named; exit 5', async () => {
    const blue = (await processes()).find((p) => p.name === 'orders')!;
    const before = await target.read();
    const gate = await plantGate('planted contract: orders without a session answer 200', 'assert.equal(res.status, 200);');
    const r = await runCli(['pipeline', 'orders', '--from', 'Image', '--gate', gate], cliEnv);
    expect(r.code, r.out + r.err).toBe(5);
    // No Docker here: the image's entry point, the one the stack runs as blue, is what runs.
    expect(r.out).toMatch(
      /^✔ Image \d+\.\d s — no Docker here: no image is built; its entry point \(node extracted\/orders\/src\/server\.ts/m,
    );
    expect(r.out).toMatch(
      /✘ Deploy: the gate failed: planted contract: orders without a session answer 200; green stopped, blue serves on/,
    );
    expect(r.out).toMatch(/✘ Deploy\s+failed/);
    expect(r.out).toMatch(/· Record\s+not run/);
    expect(r.out).not.toContain(ADMIN_TOKEN);
    const now = await processes();
    expect(now.map((p) => p.name)).not.toContain('orders-green');
    expect(now.find((p) => p.name === 'orders')).toMatchObject({ pid: blue.pid, url: blue.url, candidate: false });
    // The table's text as before: green added for the gate and removed again, both audited.
    const after = await target.read();
    expect(after.text).toBe(before.text);
    expect(after.revision).toBe(before.revision! + 2);
    expect(compileRouteTable(after.text).upstreams.get('orders')!.url).toBe(blue.url);
    const history = (await target.documents!.history({ limit: 2 })).map((h) => h.reason);
    expect(history.join('\n')).toMatch(
      /orders-green added for its gate[\s\S]*orders-green removed|orders-green removed[\s\S]*orders-green added/,
    );
    expect((await fetch(`${blue.url}/healthz`)).status).toBe(200);
    expect(output()).not.toMatch(/exited unexpectedly/);
  });

  it('when an interrupted run left its green upstream in the table and no green runs, then the next run removes it (audited) and goes on', async () => {
    const before = await target.read();
    const left = await target.write(before, editUpstream(before.text, 'orders-green', 'http://127.0.0.1:9'), {
      actor: 'test',
      reason: 'a run killed after adding green',
      kind: 'push',
      diff: [],
    });
    const gate = await plantGate('planted contract: orders without a session answer 200', 'assert.equal(res.status, 200);');
    const r = await runCli(['pipeline', 'orders', '--from', 'Deploy', '--gate', gate], cliEnv);
    // Past the leftover: the run's own green was started and gated (red here, so undone).
    expect(r.code, r.out + r.err).toBe(5);
    expect(r.out).toMatch(/orders-green: left in the table by an interrupted run, with no orders-green running: removed/);
    const after = await target.read();
    expect(after.text).toBe(before.text);
    expect(after.revision).toBe(left.revision! + 3);
    expect((await target.documents!.history({ limit: 3 })).map((h) => h.reason).join('\n')).toContain(
      'orders-green left by an interrupted run removed',
    );
  });

  it('when the gate passes, then green takes the upstream in the shared table, blue is drained and stopped, and the cutover ends with the group in service mode; no request failed meanwhile', async () => {
    const blue = (await processes()).find((p) => p.name === 'orders')!;
    expect(groupState((await target.read()).text, 'orders')!.mode).toBe('shadow');
    const gate = await plantGate('planted contract: orders without a session answer 401', 'assert.equal(res.status, 401);');
    // Users meanwhile (new visitors each: spread over the canary), for the shadow samples and each step's figures.
    const load = steadyLoad([proxyUrl], 40, { path: () => '/api/orders' });
    const r = await runCli(['pipeline', 'orders', '--from', 'Deploy', '--gate', gate, '--tick-ms', '300'], cliEnv);
    const sent = await load.stop();
    expect(r.code, r.out + r.err).toBe(0);
    for (const stage of ['Deploy', 'Record', 'Cutover']) expect(r.out).toMatch(new RegExp(`^✔ ${stage} \\d+\\.\\d s`, 'm'));
    expect(r.out).toMatch(/– Source\s+skipped\s+--from Deploy/);
    const now = await processes();
    const served = now.find((p) => p.name === 'orders')!;
    expect(served.pid).not.toBe(blue.pid);
    expect(served.url).not.toBe(blue.url);
    expect(isAlive(blue.pid!)).toBe(false);
    const table = await target.read();
    expect(compileRouteTable(table.text).upstreams.get('orders')!.url).toBe(served.url);
    expect(compileRouteTable(table.text).upstreams.has('orders-green')).toBe(false);
    expect(groupState(table.text, 'orders')!.mode).toBe('service');
    const recorded = JSON.parse(await fs.readFile(path.join(dir, 'deployed.json'), 'utf8')) as Record<string, { url: string }>;
    expect(recorded.orders!.url).toBe(served.url);
    expect(sent.sent).toBeGreaterThan(100);
    expect(sent.failed).toEqual([]);
    // Still one stack: it did not take blue's exit for a crash.
    expect(output()).not.toMatch(/exited unexpectedly/);
    expect(stack.exitCode).toBeNull();
    // A whole pipeline: green's start and gate, a shadow gate, a 2 s bake and the drain. ~5 s alone,
    // but the suite runs it beside the rollback drills on two cores, where it has passed 20 s.
  }, 60_000);
});
