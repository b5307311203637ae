import fs from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProxyAdminClient } from '@strangler/proxy/admin-client';
import { backfill } from '../src/backfill.ts';
import { drain } from '../src/replicate.ts';
import { readSyncState, setWriter } from '../src/sync-state.ts';
import { SWITCH_STEPS, switchWriter, type SwitchOptions } from '../src/switch-writer.ts';
import { FakeUpstream } from '@strangler/proxy/testing';
import { ADMIN_TOKEN, ADMIN_AUTH, startTestProxy, startTestRedis, type TestProxy } from '@strangler/proxy/testing';
import { storeTarget } from '@strangler/proxy/table-target';
import { runCli } from '@strangler/stack/testing';
import { LIBRARY_MAPPING, libraryDatabases } from './support/library-databases.ts';
import { count, type ServiceDatabases } from './support/sides.ts';

let d: ServiceDatabases;
let monolith: FakeUpstream;
let catalog: FakeUpstream;
let proxy: TestProxy;
let original: string;

const tableText = (mode: string): string => `# the catalog group moves with its data
version: 1
upstreams:
  monolith: { url: ${monolith.url} }
  catalog: { url: ${catalog.url} }
groups:
  catalog: { mode: ${mode}, target: catalog }
routes:
  - name: catalog
    group: catalog
    match: { path: /api/catalog/* }
default: monolith
`;

beforeAll(async () => {
  d = await libraryDatabases({ seed: false });
  await backfill(d);
  [monolith, catalog] = await Promise.all([new FakeUpstream('monolith').start(), new FakeUpstream('catalog').start()]);
  original = tableText('monolith');
  proxy = await startTestProxy(original);
});
afterAll(async () => {
  await proxy?.close();
  await Promise.all([monolith?.close(), catalog?.close()]);
  await d?.close();
});
afterEach(async () => {
  // Every test starts from the monolith writing and routed, unfrozen.
  await setWriter(d.pools.service, 'catalog', 'monolith');
  await proxy.writeRoutes(original);
  await new ProxyAdminClient(proxy.adminUrl, ADMIN_TOKEN).reload();
  monolith.behaviour = { kind: 'ok' };
});

const options = (o: Partial<SwitchOptions> = {}): SwitchOptions => ({
  data: d,
  to: 'service',
  routesFile: proxy.routesFile,
  proxies: [new ProxyAdminClient(proxy.adminUrl, ADMIN_TOKEN)],
  actor: 'test',
  reason: 'switch-writer test',
  ...o,
});

const served = async (): Promise<{ hash: string; mode: string; frozen: boolean }> => {
  const t = await (await fetch(`${proxy.adminUrl}/__strangler/routes`, { headers: ADMIN_AUTH })).json();
  return { hash: t.hash, mode: t.routes[0].mode, frozen: t.routes[0].frozen };
};

describe('strangler data switch (the writer switch state machine)', () => {
  it('when every step passes, then the service writes, the group is in service mode and unfrozen, comments kept, and the switch is recorded', async () => {
    const steps: string[] = [];
    const r = await switchWriter(options({ onStep: (s) => void steps.push(s) }));
    expect([r.outcome, r.from, r.to, r.error]).toEqual(['switched', 'monolith', 'service', undefined]);
    expect(steps).toEqual([...SWITCH_STEPS]);
    expect(r.steps.every((s) => s.ok)).toBe(true);
    expect(r.frozenMs).toBeGreaterThanOrEqual(0);
    expect((await readSyncState(d.pools.service, 'catalog')).writer).toBe('service');
    const text = await fs.readFile(proxy.routesFile, 'utf8');
    expect(text).toContain('# the catalog group moves with its data');
    expect(text).toContain('catalog: { mode: service, target: catalog }');
    expect(await served()).toMatchObject({ mode: 'service', frozen: false, hash: r.routesHash });
    const audit = (
      await d.pools.service.query(`SELECT from_writer, to_writer, actor, reason, outcome FROM strangler_switches ORDER BY id DESC LIMIT 1`)
    ).rows[0];
    expect(audit).toEqual({
      from_writer: 'monolith',
      to_writer: 'service',
      actor: 'test',
      reason: 'switch-writer test',
      outcome: 'switched',
    });
  });

  it('when asked to reroute (a canary step of a group that takes writes), then the group moves to its new weight with the writes frozen and every captured change applied first, the writer stays, and no switch is recorded; a reroute that would change who writes is refused', async () => {
    const switches = await count(d.pools.service, 'SELECT count(*) FROM strangler_switches');
    await d.pools.monolith.query(`INSERT INTO authors (id, name, email) VALUES (78, 'Moved', 'moved@library.test')`);
    try {
      const steps: string[] = [];
      const r = await switchWriter(options({ to: 'monolith', reroute: { mode: 'canary', weight: 50 }, onStep: (s) => void steps.push(s) }));
      expect([r.outcome, r.error]).toEqual(['switched', undefined]);
      expect(steps).toEqual(SWITCH_STEPS.filter((s) => s !== 'switch-writer'));
      expect(await count(d.pools.service, 'SELECT count(*) FROM authors WHERE id = 78')).toBe(1);
      expect((await readSyncState(d.pools.service, 'catalog')).writer).toBe('monolith');
      expect(await fs.readFile(proxy.routesFile, 'utf8')).toContain('catalog: { mode: canary, target: catalog, weight: 50 }');
      expect(await served()).toMatchObject({ mode: 'canary', frozen: false, hash: r.routesHash });
      expect(await count(d.pools.service, 'SELECT count(*) FROM strangler_switches')).toBe(switches);

      const wrong = await switchWriter(options({ to: 'service', reroute: { mode: 'canary', weight: 60 } }));
      expect([wrong.outcome, wrong.failedStep, wrong.error]).toEqual([
        'aborted',
        'check',
        'a reroute keeps the writer, but the monolith writes the catalog rows, not the service',
      ]);
    } finally {
      await drain(d);
      await d.pools.monolith.query(`DELETE FROM authors WHERE id = 78`);
      await drain(d);
    }
  });

  it.each(SWITCH_STEPS)(
    'when aborted before %s, then what was done is undone: the monolith writes, the original table is served unfrozen',
    async (step) => {
      const abort = new AbortController();
      const r = await switchWriter(
        options({ signal: abort.signal, onStep: (s) => void (s === step && abort.abort(new Error('operator pressed Ctrl-C'))) }),
      );
      expect([r.outcome, r.failedStep, r.undoErrors]).toEqual(['aborted', step, []]);
      expect(r.error).toBe(`aborted before ${step}`);
      expect((await readSyncState(d.pools.service, 'catalog')).writer).toBe('monolith');
      expect(await fs.readFile(proxy.routesFile, 'utf8')).toBe(original);
      expect(await served()).toMatchObject({ mode: 'monolith', frozen: false });
      expect((await d.pools.service.query(`SELECT outcome, failed_step FROM strangler_switches ORDER BY id DESC LIMIT 1`)).rows[0]).toEqual(
        { outcome: 'aborted', failed_step: step },
      );
    },
  );

  it('when a write routed before the freeze is still running at the deadline, then it aborts at drain-requests and undoes the freeze', async () => {
    monolith.behaviour = { kind: 'ok', delayMs: 1_500 };
    const slow = fetch(`${proxy.url}/api/catalog/7`, { method: 'PATCH', body: '{}' });
    await new Promise((r) => setTimeout(r, 100));
    const r = await switchWriter(options({ requestsTimeoutMs: 300 }));
    expect([r.outcome, r.failedStep]).toEqual(['aborted', 'drain-requests']);
    expect(r.error).toMatch(/still runs 1 writes routed before the freeze/);
    expect(await served()).toMatchObject({ mode: 'monolith', frozen: false });
    expect((await slow).status).toBe(200);
  });

  it('when a captured change cannot be applied before the deadline, then it aborts at drain-changes and the monolith keeps writing', async () => {
    // A book whose author the service has never seen: its foreign key refuses the copy.
    await d.pools.monolith.query(`INSERT INTO authors (id, name, email) VALUES (77, 'Unseen', 'unseen@library.test')`);
    await d.pools.monolith.query(`DELETE FROM strangler_outbox WHERE table_name = 'authors'`);
    await d.pools.monolith.query(`INSERT INTO books (isbn, writer_id, title) VALUES ('978-077000', 77, 'Blocked')`);
    try {
      const r = await switchWriter(options({ changesTimeoutMs: 300 }));
      expect([r.outcome, r.failedStep]).toEqual(['aborted', 'drain-changes']);
      expect(r.error).toMatch(
        /changes still not applied after 300 ms; refused by the other side: books 978-077000 from the monolith: 23503 insert or update on table "titles" violates foreign key constraint/,
      );
      expect((await readSyncState(d.pools.service, 'catalog')).writer).toBe('monolith');
      expect(await served()).toMatchObject({ mode: 'monolith', frozen: false });
    } finally {
      await d.pools.monolith.query(
        `DELETE FROM strangler_outbox; DELETE FROM books WHERE writer_id = 77; DELETE FROM authors WHERE id = 77; DELETE FROM strangler_outbox`,
      );
    }
  });

  describe('with an author signed up on both sides at once (a change each side refuses)', () => {
    const EMAIL = 'twice@library.test';
    const conflict = async (): Promise<string[]> => {
      const insert = `INSERT INTO authors (name, email) VALUES ('Twice', '${EMAIL}') RETURNING id::text AS id`;
      return [(await d.pools.monolith.query(insert)).rows[0].id, (await d.pools.service.query(insert)).rows[0].id];
    };
    afterEach(async () => {
      for (const pool of [d.pools.monolith, d.pools.service]) {
        await pool.query(
          `BEGIN; SELECT set_config('strangler.applying', 'on', true); DELETE FROM authors WHERE email = '${EMAIL}'; DELETE FROM strangler_outbox; COMMIT`,
        );
      }
      await d.pools.service.query('DELETE FROM strangler_dead_letters; DELETE FROM strangler_apply_failures');
    });

    it('when the service has dead letters, then check refuses the switch naming each one and the command that resolves them, and nothing changes', async () => {
      const [onMonolith, onService] = await conflict();
      for (let i = 0; i < 3; i++) await drain(d, { deadLetter: { attempts: 3, afterMs: 0 } });
      const r = await switchWriter(options());
      expect([r.outcome, r.failedStep, r.undoErrors]).toEqual(['aborted', 'check', []]);
      expect(r.error).toMatch(/^catalog has 2 dead letters \(changes the other side refused; the sides differ until each is handled\)/);
      expect(r.error).toContain(
        `authors ${onMonolith} from the monolith: 23505 duplicate key value violates unique constraint "authors_email_key"`,
      );
      expect(r.error).toContain(`authors ${onService} from the service: 23505`);
      expect(r.error).toContain('See `strangler data dead-letters catalog`, then fix the row and --retry ID, or --resolve ID --reason "…"');
      expect((await readSyncState(d.pools.service, 'catalog')).writer).toBe('monolith');
      expect(await fs.readFile(proxy.routesFile, 'utf8')).toBe(original);
      expect(await served()).toMatchObject({ mode: 'monolith', frozen: false });
    });

    it('when a change becomes a dead letter while the changes drain, then the switch refuses at drain-changes and undoes the freeze', async () => {
      const [onMonolith] = await conflict();
      const r = await switchWriter(options({ deadLetter: { attempts: 3, afterMs: 0 } }));
      expect([r.outcome, r.failedStep, r.undoErrors]).toEqual(['aborted', 'drain-changes', []]);
      expect(r.error).toContain(`authors ${onMonolith} from the monolith: 23505`);
      expect((await readSyncState(d.pools.service, 'catalog')).writer).toBe('monolith');
      expect(await fs.readFile(proxy.routesFile, 'utf8')).toBe(original);
      expect(await served()).toMatchObject({ mode: 'monolith', frozen: false });
    });
  });

  it('when the table has no such group, the group is frozen, or the side already writes, then check refuses and nothing changes', async () => {
    const switched = (): Promise<number> => count(d.pools.service, `SELECT count(*) FROM strangler_switches WHERE outcome = 'switched'`);
    const before = await switched();
    const noGroup = await switchWriter(options({ group: 'payments' }));
    expect([noGroup.outcome, noGroup.failedStep]).toEqual(['aborted', 'check']);
    expect(noGroup.error).toMatch(/has no group "payments": put the service's routes in one group/);
    expect((await switchWriter(options({ to: 'monolith' }))).error).toMatch(
      /the monolith already writes the catalog rows; nothing to switch/,
    );
    await proxy.writeRoutes(original.replace('target: catalog }', 'target: catalog, frozen: true }'));
    expect((await switchWriter(options())).error).toMatch(/group "catalog" is already frozen/);
    await proxy.writeRoutes(original.replace('mode: monolith', 'mode: service'));
    expect((await switchWriter(options())).error).toMatch(/group "catalog" is in service mode but the monolith writes the rows/);
    // Each refusal recorded as aborted at check; none switched, and the monolith still writes.
    expect(await switched()).toBe(before);
    expect((await d.pools.service.query(`SELECT outcome, failed_step FROM strangler_switches ORDER BY id DESC LIMIT 4`)).rows).toEqual(
      Array(4).fill({ outcome: 'aborted', failed_step: 'check' }),
    );
    expect((await readSyncState(d.pools.service, 'catalog')).writer).toBe('monolith');
  });

  it('when a proxy is unreachable, then the switch aborts at check, before freezing anything', async () => {
    const r = await switchWriter(options({ proxies: [new ProxyAdminClient('http://127.0.0.1:9', ADMIN_TOKEN)] }));
    expect([r.outcome, r.failedStep]).toEqual(['aborted', 'check']);
    expect(r.error).toMatch(/the proxy admin at http:\/\/127\.0\.0\.1:9 did not answer/);
    expect(await fs.readFile(proxy.routesFile, 'utf8')).toBe(original);
  });

  it('when run from the CLI, then it prints each step and exits 0; the way back too; a usage problem exits 2', async () => {
    const env = {
      DATA_MAPPING: LIBRARY_MAPPING,
      MONOLITH_DATABASE_URL: d.urls.monolith,
      CATALOG_DATABASE_URL: d.urls.service,
      ROUTES_FILE: proxy.routesFile,
      PROXY_ADMIN_URLS: proxy.adminUrl,
      ADMIN_TOKEN,
      USER: 'ana',
    };
    const there = await runCli(['data', 'switch', 'catalog', '--to', 'service', '--reason', 'contracts green'], env);
    expect(there.code, there.err).toBe(0);
    expect(there.out).toMatch(/ok {3}freeze\s+\d+ ms/);
    expect(there.out).toMatch(/switched: the service writes the catalog rows now; writes were frozen for \d+ ms/);
    const back = await runCli(['data', 'switch', 'catalog', '--to', 'monolith', '--reason', 'rollback drill'], env);
    expect(back.code, back.err).toBe(0);
    const status = await runCli(['data', 'status', 'catalog'], env);
    expect(status.out).toMatch(/switch {4}\S+ \S+ service → monolith switched by ana: rollback drill \(frozen \d+ ms\)/);
    expect((await runCli(['data', 'switch', 'catalog', '--to', 'sideways', '--reason', 'x'], env)).code).toBe(2);
    const noToken = await runCli(['data', 'switch', 'catalog', '--to', 'service', '--reason', 'x'], { ...env, ADMIN_TOKEN: '' });
    expect([noToken.code, noToken.err.trim()]).toEqual([2, 'set ADMIN_TOKEN: reloading a proxy needs its admin token']);
  });

  it('regression, drain-requests waited for nothing on the shared store without admin URLs (as `strangler cutover` switches): a write routed before the freeze still running at the deadline aborts the switch there, and one that ends in time is waited for', async () => {
    const redis = await startTestRedis();
    const fleet = await Promise.all([1, 2].map(() => startTestProxy(original, { ROUTES_STORE_URL: redis.url, ROUTES_POLL_MS: '100' })));
    const routes = await storeTarget(redis.url, 'strangler:routes');
    try {
      monolith.behaviour = { kind: 'ok', delayMs: 1_500 };
      const slow = fetch(`${fleet[1]!.url}/api/catalog/7`, { method: 'PATCH', body: '{}' });
      await new Promise((r) => setTimeout(r, 100));
      const r = await switchWriter(options({ routes, routesFile: undefined, proxies: [], requestsTimeoutMs: 300 }));
      expect([r.outcome, r.failedStep]).toEqual(['aborted', 'drain-requests']);
      // Named by the id it reports under: the one the slow write went through.
      const slowOne = fleet[1]!.store.status();
      expect(r.error).toBe(
        `the proxy ${slowOne.kind === 'store' ? slowOne.instance : '?'} still runs 1 writes routed before the freeze (answers not sent, or upstream attempts not done)`,
      );
      for (const p of fleet) expect(p.store.current.routes[0]).toMatchObject({ mode: 'monolith', frozen: false });
      expect((await readSyncState(d.pools.service, 'catalog')).writer).toBe('monolith');
      expect((await slow).status).toBe(200);

      // The same write ending within the deadline: the writer changes only once it has.
      monolith.behaviour = { kind: 'ok', delayMs: 600 };
      let answeredAt = 0;
      const inTime = fetch(`${fleet[0]!.url}/api/catalog/8`, { method: 'PATCH', body: '{}' }).then(
        (res) => ((answeredAt = Date.now()), res),
      );
      await new Promise((r) => setTimeout(r, 100));
      let switchingAt = 0;
      const ok = await switchWriter(
        options({
          routes,
          routesFile: undefined,
          proxies: [],
          onStep: (step) => void (step === 'drain-changes' && (switchingAt = Date.now())),
        }),
      );
      expect([ok.outcome, ok.error]).toEqual(['switched', undefined]);
      expect((await inTime).status).toBe(200);
      expect(switchingAt).toBeGreaterThanOrEqual(answeredAt);
      expect(ok.steps.find((s) => s.step === 'drain-requests')?.detail).toMatch(/waited for up to 1 writes/);
    } finally {
      routes.close();
      await Promise.all(fleet.map((p) => p.close()));
      await redis.close();
    }
  }, 30_000);

  it('when the proxies follow the shared store, then the switch changes the store (audited), every proxy reporting to it takes each step, and the CLI does the same', async () => {
    const redis = await startTestRedis();
    const fleet = await Promise.all([1, 2].map(() => startTestProxy(original, { ROUTES_STORE_URL: redis.url, ROUTES_POLL_MS: '200' })));
    const routes = await storeTarget(redis.url, 'strangler:routes');
    try {
      const r = await switchWriter(options({ routes, routesFile: undefined, proxies: [] }));
      expect([r.outcome, r.error]).toEqual(['switched', undefined]);
      expect((await readSyncState(d.pools.service, 'catalog')).writer).toBe('service');
      for (const p of fleet) expect(p.store.current.routes[0]!.mode).toBe('service');
      // freeze, flip, unfreeze: three changes after the seed, each audited with the switch's reason.
      const audit = await routes.documents!.history({ group: 'catalog' });
      expect(audit).toHaveLength(3);
      expect(audit.every((a) => a.reason === 'data switch of catalog to the service: switch-writer test')).toBe(true);
      const env = {
        DATA_MAPPING: LIBRARY_MAPPING,
        MONOLITH_DATABASE_URL: d.urls.monolith,
        CATALOG_DATABASE_URL: d.urls.service,
        ROUTES_STORE_URL: redis.url,
      };
      const back = await runCli(['data', 'switch', 'catalog', '--to', 'monolith', '--reason', 'back through the store'], env);
      expect(back.code, back.err).toBe(0);
      for (const p of fleet) expect(p.store.current.routes[0]!.mode).toBe('monolith');
    } finally {
      routes.close();
      await Promise.all(fleet.map((p) => p.close()));
      await redis.close();
    }
  }, 30_000);
});
