import { spawn } from 'node:child_process';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startSystem, type System } from './system.ts';

// A cutover's gate as the pipelines run it: `npm run gate:contracts` and `npm run e2e` as child
// processes against a running system (E2E_BASE_URL), previewing the orders group (E2E_PREVIEW)
// while its users are still served by the monolith. The proxy's own counts per upstream say who
// answered.
const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const ORDERS_SUITE = 'contract-tests/contracts/orders/orders.test.ts';
const ONE_ORDER_TEST = ['-t', 'when a buyer orders, then 201'];

let sys: System;
beforeAll(async () => {
  // Seeded: the buyer journey logs in with the demo buyer.
  sys = await startSystem('monolith', { seed: true });
});
afterAll(() => sys?.close());

/** `npm run SCRIPT -- ARGS` from the repository's root, as a pipeline runs it, with `env` over this process's. */
function npmRun(script: string, args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; out: string }> {
  // The child is a vitest of its own: nothing of this run's workers may leak into it.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')));
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', script, '--', ...args], { cwd: REPO_ROOT, env: { ...inherited, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    // Without colour codes, so the output reads as plain lines.
    child.on('exit', (code) => resolve({ code, out: stripVTControlCharacters(out) }));
  });
}

const NO_PREVIEW = { E2E_PREVIEW: undefined, E2E_ADMIN_TOKEN: undefined };

/** The proxy's request counts for the orders route, by upstream, and its count of preview headers it did not honour. */
async function counts(): Promise<{ monolith: number; orders: number; previewIgnored: number }> {
  const text = await (await fetch(`${sys.adminUrl}/__strangler/metrics`)).text();
  const c = { monolith: 0, orders: 0, previewIgnored: Number(/^strangler_preview_ignored_total (\d+)$/m.exec(text)?.[1] ?? 0) };
  for (const m of text.matchAll(/^strangler_requests_total\{([^}]*)\} (\d+)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    const target = labels.target;
    if (labels.route === 'orders' && (target === 'monolith' || target === 'orders')) c[target] += Number(m[2]);
  }
  return c;
}

/** What `run` added to the counts. */
async function counted(run: () => Promise<{ code: number | null; out: string }>) {
  const before = await counts();
  const result = await run();
  const after = await counts();
  return {
    ...result,
    monolith: after.monolith - before.monolith,
    orders: after.orders - before.orders,
    previewIgnored: after.previewIgnored - before.previewIgnored,
  };
}

// Each test runs one or two vitest children (a few seconds to start each) on a shared machine.
describe('the contract suites and the journeys as a deployment gate, through preview routing', { timeout: 90_000 }, () => {
  it('when the gate names no deployment, not a web address, or a preview without the token, then it refuses in one line, exit 2, and runs nothing', async () => {
    const refusals = await Promise.all(
      [
        { E2E_BASE_URL: undefined, ...NO_PREVIEW },
        { E2E_BASE_URL: 'ftp://127.0.0.1:21', ...NO_PREVIEW },
        { E2E_BASE_URL: sys.url, E2E_PREVIEW: 'group:orders', E2E_ADMIN_TOKEN: undefined },
      ].map((env) => npmRun('gate:contracts', [ORDERS_SUITE], env)),
    );
    expect(refusals.map((r) => [r.code, r.out.trim().split('\n')])).toEqual([
      [2, [expect.stringMatching(/^gate:contracts: E2E_BASE_URL is not set: name the deployment/)]],
      [2, [expect.stringMatching(/^gate:contracts: E2E_BASE_URL must be http:\/\/ or https:\/\//)]],
      [2, [expect.stringMatching(/^gate:contracts: E2E_PREVIEW needs E2E_ADMIN_TOKEN/)]],
    ]);
  });

  it('when the orders group is previewed with the admin token, then its contract suite passes against the system and every orders request reached the orders service, none the monolith', async () => {
    const res = await counted(() =>
      npmRun('gate:contracts', [ORDERS_SUITE], { E2E_BASE_URL: sys.url, E2E_PREVIEW: 'group:orders', E2E_ADMIN_TOKEN: ADMIN_TOKEN }),
    );
    expect(res.code, res.out).toBe(0);
    const summary =
      /^gate:contracts: (\d+) tests ran against (\S+) \(preview group:orders\): (\d+) passed, 0 failed; (\d+) not run against a deployment \(needing (.+)\)$/m.exec(
        res.out,
      );
    expect(summary, res.out).not.toBeNull();
    const [, ran, url, passed, notRun, needing] = summary!;
    expect([Number(ran), url, Number(passed)]).toEqual([Number(passed), sys.url, Number(ran)]);
    expect(Number(ran)).toBeGreaterThan(10);
    // What needs a database or the route table is said, by name, never passed silently.
    expect([Number(notRun), needing]).toEqual([4, 'database 3, route-table 1']);
    expect(res.out).toMatch(
      /^gate:contracts: not run: orders \[deployment\] .*when the order has shipped, then 409 and stock is untouched \[not run against a deployment: needs database \(/m,
    );
    // Every one of its tests asks the orders routes at least once.
    expect(res.orders).toBeGreaterThanOrEqual(Number(ran));
    expect(res.monolith).toBe(0);
    expect(res.previewIgnored).toBe(0);
  });

  it('when there is no preview, or its token is wrong, then the same contract reaches the monolith, and the wrong token is counted as ignored', async () => {
    const plain = await counted(() =>
      npmRun('gate:contracts', [ORDERS_SUITE, ...ONE_ORDER_TEST], { E2E_BASE_URL: sys.url, ...NO_PREVIEW }),
    );
    expect(plain.code, plain.out).toBe(0);
    expect(plain.out).toMatch(/^gate:contracts: 1 tests ran against \S+: 1 passed, 0 failed;/m);
    expect([plain.monolith > 0, plain.orders, plain.previewIgnored]).toEqual([true, 0, 0]);

    const wrong = await counted(() =>
      npmRun('gate:contracts', [ORDERS_SUITE, ...ONE_ORDER_TEST], {
        E2E_BASE_URL: sys.url,
        E2E_PREVIEW: 'group:orders',
        E2E_ADMIN_TOKEN: 'not-the-admin-token-at-all',
      }),
    );
    expect(wrong.code, wrong.out).toBe(0);
    expect([wrong.monolith > 0, wrong.orders, wrong.previewIgnored > 0]).toEqual([true, 0, true]);
    // The token is a secret: never in the gate's output.
    expect(wrong.out).not.toContain('not-the-admin-token-at-all');
  });

  it('when the buyer journey runs in Chromium through the preview, then its order is placed and cancelled by the orders service', async () => {
    const res = await counted(() =>
      npmRun('e2e', ['contract-tests/journeys/buyer.test.ts', '-t', 'when a buyer browses'], {
        E2E_BASE_URL: sys.url,
        E2E_PREVIEW: 'group:orders',
        E2E_ADMIN_TOKEN: ADMIN_TOKEN,
      }),
    );
    expect(res.code, res.out).toBe(0);
    expect(res.out).toMatch(/Tests\s+1 passed/);
    // Placing, listing and cancelling: at least three orders requests, all at the service.
    expect(res.orders).toBeGreaterThanOrEqual(3);
    expect(res.monolith).toBe(0);
    const { rows } = await sys.data.orders.pools.service.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM orders WHERE id >= 1000000000 AND status = 'cancelled'`,
    );
    expect(rows[0]!.n).toBeGreaterThanOrEqual(1);
  });
});
