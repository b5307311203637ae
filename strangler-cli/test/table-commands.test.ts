import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RouteDocuments, storeClient } from '@strangler/proxy';
import { FakeUpstream, startTestProxy, startTestRedis, type TestProxy, type TestRedis } from '@strangler/proxy/testing';
import { runCli } from '@strangler/stack/testing';

/** `strangler flip|rollback|history|status` and `routes push` against a real store and a proxy following it. */
let redis: TestRedis;
let monolith: FakeUpstream;
let service: FakeUpstream;
let proxy: TestProxy;
let docs: RouteDocuments;
let env: Record<string, string>;

const TABLE = (m: string, s: string): string => `version: 1
upstreams:
  monolith: { url: "${m}" }
  service: { url: "${s}" }
groups:
  catalog: { mode: monolith, target: service }
  orders: { mode: monolith, target: service }
routes:
  - name: catalog
    group: catalog
    match: { path: /api/catalog/*, methods: [GET, HEAD] }
  - name: orders
    group: orders
    match: { path: /api/orders/* }
default: monolith
`;

beforeAll(async () => {
  redis = await startTestRedis();
  [monolith, service] = await Promise.all([new FakeUpstream('monolith').start(), new FakeUpstream('service').start()]);
  env = { ROUTES_STORE_URL: redis.url, ROUTES_POLL_MS: '200' };
  proxy = await startTestProxy(TABLE(monolith.url, service.url), env);
  const client = storeClient(redis.url);
  await client.connect();
  docs = new RouteDocuments(client);
}, 30_000);

afterAll(async () => {
  await proxy?.close();
  docs?.redis.disconnect();
  await Promise.all([monolith?.close(), service?.close()]);
  await redis?.close();
});

const servedBy = async (p: string): Promise<string | null> => (await fetch(`${proxy.url}${p}`)).headers.get('x-served-by');

describe('strangler flip, history, rollback and status on the shared store', () => {
  it('when a read group is flipped with --yes, then the diff is shown, the store moves one revision, and the proxy serves it', async () => {
    const r = await runCli(['flip', 'catalog', '--to', 'service', '--reason', 'contracts green', '--yes'], env);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('catalog: monolith → service');
    expect(r.out).toMatch(/GET \/api\/catalog\/\S*: .*monolith.* → .*service/);
    expect(r.out).toContain('revision 1 → 2');
    expect(r.out).toContain('every proxy (1) serves revision 2');
    expect(await servedBy('/api/catalog/7')).toBe('service');
  });

  it('when a group that takes writes would change writer, then the flip is refused naming the data switch, and nothing changes', async () => {
    const before = (await docs.read())!.revision;
    const r = await runCli(['flip', 'orders', '--to', 'service', '--reason', 'too soon', '--yes'], env);
    expect(r.code).toBe(1);
    expect(r.err).toContain('strangler data switch orders --to service');
    expect((await docs.read())!.revision).toBe(before);
    // Within the monolith's side (the writer stays the monolith) a writing group flips freely.
    const shadow = await runCli(['flip', 'orders', '--to', 'shadow', '--reason', 'compare first', '--yes'], env);
    expect(shadow.code).toBe(0);
  });

  it('when asked without a terminal and without --yes, or with a canary and no weight, or an unknown group, then exit 2 saying what to give', async () => {
    const noYes = await runCli(['flip', 'catalog', '--to', 'monolith', '--reason', 'x'], env);
    expect(noYes.code).toBe(2);
    expect(noYes.err).toContain('give --yes');
    const noWeight = await runCli(['flip', 'catalog', '--to', 'canary', '--reason', 'x', '--yes'], env);
    expect(noWeight.code).toBe(2);
    expect(noWeight.err).toContain('--weight');
    const unknown = await runCli(['flip', 'nope', '--to', 'service', '--reason', 'x', '--yes'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('no group "nope"');
    const nowhere = await runCli(['flip', 'catalog', '--to', 'service', '--reason', 'x', '--yes']);
    expect(nowhere.code).toBe(2);
    expect(nowhere.err).toContain('ROUTES_STORE_URL');
  });

  it('when the group goes to a 5 % canary and is rolled back, then history lists both changes with their reasons, and the group is as it was', async () => {
    const canary = await runCli(['flip', 'catalog', '--to', 'canary', '--weight', '5', '--reason', 'first users', '--yes'], env);
    expect(canary.code).toBe(0);
    const back = await runCli(['rollback', 'catalog', '--reason', 'p99 up', '--yes'], env);
    expect(back.err).toBe('');
    expect(back.code).toBe(0);
    expect(back.out).toContain('catalog: canary 5 % → service');
    expect(await servedBy('/api/catalog/8')).toBe('service');
    const history = await runCli(['history', 'catalog', '--json'], env);
    const records = JSON.parse(history.out) as { kind: string; reason: string; actor: string }[];
    expect(records.map((r) => [r.kind, r.reason])).toEqual([
      ['rollback', 'p99 up'],
      ['flip', 'first users'],
      ['flip', 'contracts green'],
    ]);
    const text = await runCli(['history'], env);
    expect(text.out).toMatch(/^#\d+ \S+ rollback catalog by \S+: p99 up$/m);
    expect(text.out).toContain('flip orders');
  });

  it('when every proxy serves the store’s revision, then status exits 0; a proxy behind is named and exits 1', async () => {
    const ok = await runCli(['status'], env);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/converged: 1 proxies serve revision \d+/);
    await docs.report({ id: 'old-proxy-1', revision: 1, hash: 'abc', stale: false, at: new Date().toISOString() }, 30);
    const behind = await runCli(['status', '--json'], env);
    expect(behind.code).toBe(1);
    expect((JSON.parse(behind.out) as { stragglers: { id: string }[] }).stragglers.map((s) => s.id)).toEqual(['old-proxy-1']);
    await docs.redis.del(`${docs.prefix}:proxy:old-proxy-1`);
  });

  it('when pointed at a file instead, then flip edits the file (from the text it read), and history says it needs the store', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'flip-file-'));
    const file = path.join(dir, 'routes.yaml');
    await fs.writeFile(file, TABLE('http://127.0.0.1:9', 'http://127.0.0.1:9'));
    const r = await runCli(['flip', 'catalog', '--to', 'service', '--reason', 'one proxy', '--yes', '--routes', file]);
    expect(r.code).toBe(0);
    expect(await fs.readFile(file, 'utf8')).toContain('catalog: { mode: service, target: service }');
    const h = await runCli(['history', '--routes', file]);
    expect(h.code).toBe(2);
    expect(h.err).toContain('needs the shared store');
    await fs.rm(dir, { recursive: true, force: true });
  });
});
