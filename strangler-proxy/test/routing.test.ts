import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from './support/fake-upstream.ts';
import { rawRequest } from './support/raw-http.ts';
import { ADMIN_TOKEN, ADMIN_AUTH, startTestProxy, table, type TestProxy } from './support/proxy-harness.ts';

let monolith: FakeUpstream;
let listings: FakeUpstream;
let orders: FakeUpstream;
let proxy: TestProxy | undefined;

beforeAll(async () => {
  [monolith, listings, orders] = await Promise.all([
    new FakeUpstream('monolith').start(),
    new FakeUpstream('listings').start(),
    new FakeUpstream('orders').start(),
  ]);
});
afterAll(async () => {
  await Promise.all([monolith, listings, orders].map((u) => u?.close()));
});
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

const servedBy = async (path: string, init: RequestInit = {}): Promise<string> => {
  const res = await fetch(proxy!.url + path, init);
  await res.arrayBuffer();
  return res.headers.get('x-served-by') ?? `proxy:${res.status}`;
};

describe('modes', () => {
  it('when routes are in monolith, service and canary 0/100 mode, then each request goes where its first matching rule says', async () => {
    proxy = await startTestProxy(
      table(
        { monolith: monolith.url, listings: listings.url, orders: orders.url },
        `  - name: listings-read
    match: { methods: [GET, HEAD], path: /api/listings/:id? }
    mode: service
    target: listings
  - name: listings-write
    match: { methods: [POST, PATCH], path: /api/listings/* }
    mode: monolith
  - name: orders-none
    match: { path: /api/orders/* }
    mode: canary
    target: orders
    weight: 0
  - name: orders-all
    match: { path: /api/orders-v2/* }
    mode: canary
    target: orders
    weight: 100`,
      ),
    );
    expect(await servedBy('/api/listings')).toBe('listings');
    expect(await servedBy('/api/listings/7')).toBe('listings');
    expect(await servedBy('/API/Listings/7')).toBe('listings');
    expect(await servedBy('/api/listings/7', { method: 'PATCH', body: '{}' })).toBe('monolith');
    expect(await servedBy('/api/listings/7/archive')).toBe('monolith');
    expect(await servedBy('/api/orders/1')).toBe('monolith');
    expect(await servedBy('/api/orders-v2/1')).toBe('orders');
    expect(await servedBy('/')).toBe('monolith');
  });

  it('when a rule has a header or cookie condition, then only matching requests take it', async () => {
    proxy = await startTestProxy(
      table(
        { monolith: monolith.url, listings: listings.url },
        `  - name: beta-testers
    match: { path: /api/*, headers: { x-beta: "1" } }
    mode: service
    target: listings
  - name: beta-cookie
    match: { path: /api/*, cookies: { beta: { present: true } } }
    mode: service
    target: listings`,
      ),
    );
    expect(await servedBy('/api/listings', { headers: { 'x-beta': '1' } })).toBe('listings');
    expect(await servedBy('/api/listings', { headers: { 'x-beta': '2' } })).toBe('monolith');
    expect(await servedBy('/api/listings', { headers: { cookie: 'a=1; beta=yes' } })).toBe('listings');
    expect(await servedBy('/api/listings')).toBe('monolith');
  });

  it('when a cookie value comes percent-encoded or quoted (as the apps set theirs) or its name repeats, then a route matches the decoded value of its first occurrence, as the app reads it', async () => {
    proxy = await startTestProxy(
      table(
        { monolith: monolith.url, listings: listings.url },
        `  - name: beta-cohort
    match: { path: /api/*, cookies: { cohort: "early birds" } }
    mode: service
    target: listings`,
      ),
    );
    expect(await servedBy('/api/listings', { headers: { cookie: 'cohort=early%20birds' } })).toBe('listings');
    expect(await servedBy('/api/listings', { headers: { cookie: 'cohort="early birds"' } })).toBe('listings');
    expect(await servedBy('/api/listings', { headers: { cookie: 'x ; cohort = early%20birds ; cohort=late' } })).toBe('listings');
    expect(await servedBy('/api/listings', { headers: { cookie: 'cohort=late; cohort=early%20birds' } })).toBe('monolith');
  });
});

/** A route that splits `path` between the monolith and `target` at 50 %: a request to it needs a canary key. */
const canaryRoute = (path: string, target: string): string => `  - name: split
    match: { path: ${path} }
    mode: canary
    target: ${target}
    weight: 50`;

describe('what reaches the upstream', () => {
  it('when forwarded, then the path is normalised, the Host kept, X-Forwarded-* come from the socket, and a request id is set', async () => {
    proxy = await startTestProxy(table({ monolith: monolith.url }, ''));
    const res = await fetch(`${proxy.url}/api/./x/../listings?q=a%20b`, {
      headers: {
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
        forwarded: 'for=6.6.6.6',
        'x-request-id': 'trace-123',
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('trace-123');
    const seen = monolith.seen.at(-1)!;
    expect(seen.url).toBe('/api/listings?q=a%20b');
    expect(seen.headers.host).toBe(new URL(proxy.url).host);
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-host']).toBe(new URL(proxy.url).host);
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers.forwarded).toBeUndefined();
    expect(seen.headers['x-request-id']).toBe('trace-123');
  });

  it('when requests come without a request id or with a malformed one, then each is given a new one of its own, echoed to the client', async () => {
    proxy = await startTestProxy(table({ monolith: monolith.url }, ''));
    const ids: string[] = [];
    for (const given of [undefined, undefined, 'has space', 'x'.repeat(129)]) {
      const res = await fetch(`${proxy.url}/api/listings`, { headers: given ? { 'x-request-id': given } : {} });
      expect(res.status).toBe(200);
      const sent = monolith.seen.at(-1)!.headers['x-request-id'] as string;
      expect(res.headers.get('x-request-id')).toBe(sent);
      ids.push(sent);
    }
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('when a trusted proxy hop stands in front, then its X-Forwarded-* are kept and the socket appended', async () => {
    proxy = await startTestProxy(table({ monolith: monolith.url }, ''), {
      TRUSTED_PROXY_HOPS: '1',
      ALLOWED_HOSTS: '127.0.0.1,cacao.example',
    });
    await fetch(`${proxy.url}/x`, {
      headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'cacao.example' },
    });
    const seen = monolith.seen.at(-1)!;
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-host']).toBe('cacao.example');
  });

  it("when the upstream's response names a header in Connection, then that header stays between the upstream and the proxy", async () => {
    proxy = await startTestProxy(table({ monolith: monolith.url }, ''));
    monolith.behaviour = {
      kind: 'ok',
      headers: { connection: 'keep-alive, X-Internal-Trace', 'x-internal-trace': 'node-7 10.0.3.4', 'x-public': 'yes' },
    };
    try {
      const res = await fetch(`${proxy.url}/x`);
      await res.arrayBuffer();
      expect(res.headers.get('x-public')).toBe('yes');
      expect(res.headers.get('x-internal-trace')).toBeNull();
    } finally {
      monolith.behaviour = { kind: 'ok' };
    }
  });

  it('when the client reached the proxy over TLS through a trusted hop, then the uid cookie is Secure; over plain HTTP it is not', async () => {
    const canary = table({ monolith: monolith.url, listings: listings.url }, canaryRoute('/x', 'listings'));
    proxy = await startTestProxy(canary, { TRUSTED_PROXY_HOPS: '1' });
    const uid = async (proto: string): Promise<string> => {
      const res = await fetch(`${proxy!.url}/x`, { headers: { 'x-forwarded-proto': proto } });
      await res.arrayBuffer();
      return res.headers.getSetCookie().find((c) => c.startsWith('strangler_uid='))!;
    };
    expect(await uid('https')).toMatch(/; Secure(;|$)/);
    expect(await uid('http')).not.toMatch(/Secure/);
    // Without a trusted hop, a client's own X-Forwarded-Proto is not believed.
    await proxy.close();
    proxy = await startTestProxy(canary);
    expect(await uid('https')).not.toMatch(/Secure/);
  });

  it('when a visitor without a uid asks for what no canary splits and sends no Idempotency-Key, then no uid cookie is set; a canary route or a keyed write sets one', async () => {
    proxy = await startTestProxy(
      table(
        { monolith: monolith.url, listings: listings.url },
        `${canaryRoute('/api/listings/*', 'listings')}
  - name: pages
    match: { path: /pages/* }
    mode: monolith`,
      ),
    );
    const setCookies = async (path: string, init: RequestInit = {}): Promise<string[]> => {
      const res = await fetch(proxy!.url + path, init);
      await res.arrayBuffer();
      return res.headers.getSetCookie().filter((c) => c.startsWith('strangler_uid='));
    };
    expect(await setCookies('/pages/home')).toEqual([]);
    expect(await setCookies('/assets/app.css')).toEqual([]);
    expect(await setCookies('/api/listings/7')).toHaveLength(1);
    const keyed = { method: 'POST', headers: { 'idempotency-key': 'k-1', 'content-type': 'application/json' }, body: '{}' };
    expect(await setCookies('/pages/order', keyed)).toHaveLength(1);
    // A visitor who has one keeps it: nothing new is set.
    const cookie = 'strangler_uid=00000000-0000-4000-8000-000000000001';
    expect(await setCookies('/api/listings/7', { headers: { cookie } })).toEqual([]);
  });

  it('when the response comes back, then hop-by-hop headers (and any its Connection names) are dropped, and a repeated field keeps every line', async () => {
    const app = http.createServer((_req, res) => {
      res.setHeader('connection', 'keep-alive, X-Hop');
      res.setHeader('keep-alive', 'timeout=5');
      res.setHeader('x-hop', 'for the proxy only');
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
      res.setHeader('vary', ['accept', 'accept-encoding']);
      res.setHeader('x-served-by', 'app');
      res.end('ok');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    try {
      // A canary route: the proxy's own uid cookie joins the upstream's two.
      const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
      proxy = await startTestProxy(table({ monolith: appUrl, app: appUrl }, canaryRoute('/x', 'app')));
      const { text } = await rawRequest(proxy.url, `GET /x HTTP/1.1\r\nHost: ${new URL(proxy.url).host}\r\nConnection: close\r\n\r\n`);
      const head = text.slice(0, text.indexOf('\r\n\r\n')).toLowerCase().split('\r\n');
      expect(head).toContain('x-served-by: app');
      expect(head.filter((l) => l.startsWith('x-hop') || l.startsWith('keep-alive'))).toEqual([]);
      expect(head.filter((l) => l.startsWith('set-cookie: ') && !l.includes('strangler_uid'))).toEqual([
        'set-cookie: a=1; path=/',
        'set-cookie: b=2; path=/',
      ]);
      expect(head.filter((l) => l.startsWith('vary: '))).toEqual(['vary: accept', 'vary: accept-encoding']);
      expect(head.some((l) => l.startsWith('set-cookie: strangler_uid='))).toBe(true);
    } finally {
      await new Promise((resolve) => app.close(resolve));
    }
  });
});

describe('route groups', () => {
  it('when routes share a group, then one user is on the same side for all of them, at any weight step', async () => {
    const groupTable = (weight: number) =>
      table(
        { monolith: monolith.url, listings: listings.url },
        `  - name: read
    group: listings
    match: { methods: [GET], path: /api/listings/* }
  - name: write
    group: listings
    match: { methods: [POST], path: /api/listings/* }`,
      ).replace('routes:', `groups:\n  listings: { mode: canary, target: listings, weight: ${weight} }\nroutes:`);
    proxy = await startTestProxy(groupTable(30));
    for (let i = 0; i < 60; i++) {
      const cookie = `strangler_uid=00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      const read = await servedBy('/api/listings/1', { headers: { cookie } });
      const write = await servedBy('/api/listings/1', { method: 'POST', body: '{}', headers: { cookie } });
      expect(write).toBe(read);
    }
  });
});

describe('frozen groups (a writer switch in progress)', () => {
  const frozenTable = (frozen: boolean): string =>
    table(
      { monolith: monolith.url, listings: listings.url },
      '  - name: listings\n    group: listings\n    match: { path: /api/listings/* }',
      'monolith',
    ).replace('routes:', `groups:\n  listings: { mode: service, target: listings${frozen ? ', frozen: true' : ''} }\nroutes:`);

  it('when a group is frozen, then its writes get 503 writes_frozen with Retry-After and reach no upstream; reads pass', async () => {
    proxy = await startTestProxy(frozenTable(true));
    const [before, monolithBefore] = [listings.count(), monolith.count()];
    for (const method of ['POST', 'PATCH', 'PUT', 'DELETE']) {
      const res = await fetch(`${proxy.url}/api/listings/7`, {
        method,
        body: method === 'DELETE' ? null : '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status, method).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect((await res.json()).error.code).toBe('writes_frozen');
    }
    expect([listings.count(), monolith.count()]).toEqual([before, monolithBefore]);
    expect(await servedBy('/api/listings/7')).toBe('listings');
    const explain = await (
      await fetch(`${proxy.adminUrl}/__strangler/explain?method=POST&path=/api/listings/7`, { headers: ADMIN_AUTH })
    ).json();
    expect(explain.reason).toMatch(/writes are frozen \(503\) while its data moves/);
    expect((await (await fetch(`${proxy.adminUrl}/__strangler/routes`, { headers: ADMIN_AUTH })).json()).routes[0].frozen).toBe(true);
  });

  it('when a write routed by the old table is still running, then /__strangler/writes counts it until it finishes', async () => {
    proxy = await startTestProxy(frozenTable(false));
    listings.behaviour = { kind: 'ok', delayMs: 400 };
    try {
      const slow = fetch(`${proxy.url}/api/listings/7`, { method: 'PATCH', body: '{}' });
      await new Promise((r) => setTimeout(r, 100));
      await proxy.writeRoutes(frozenTable(true));
      const reload = await (
        await fetch(`${proxy.adminUrl}/__strangler/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      ).json();
      const during = await (await fetch(`${proxy.adminUrl}/__strangler/writes`, { headers: ADMIN_AUTH })).json();
      expect(during).toMatchObject({ hash: reload.hash, inFlight: 1, onOlderTables: 1 });
      expect((await slow).status).toBe(200);
      const after = await (await fetch(`${proxy.adminUrl}/__strangler/writes`, { headers: ADMIN_AUTH })).json();
      expect(after).toMatchObject({ hash: reload.hash, inFlight: 0, onOlderTables: 0 });
    } finally {
      listings.behaviour = { kind: 'ok' };
    }
  });

  it('when a route inside a group sets frozen itself, then the table is refused', async () => {
    await expect(
      startTestProxy(frozenTable(false).replace('    group: listings\n', '    group: listings\n    frozen: true\n')),
    ).rejects.toThrow(/set mode, target, weight and frozen on the group/);
  });
});

describe('preview routing', () => {
  it('when the preview header comes with the admin token, then the request goes to that upstream', async () => {
    proxy = await startTestProxy(table({ monolith: monolith.url, listings: listings.url }, ''));
    expect(await servedBy('/api/listings', { headers: { 'x-strangler-preview': 'listings', 'x-strangler-token': ADMIN_TOKEN } })).toBe(
      'listings',
    );
    expect(listings.seen.at(-1)!.headers['x-strangler-token']).toBeUndefined();
    expect(listings.seen.at(-1)!.headers['x-strangler-preview']).toBeUndefined();
  });

  it('when the preview names a group, then only that group’s routes go to its target (still in monolith mode for users), the rest as the table says', async () => {
    proxy = await startTestProxy(
      `version: 1\nupstreams:\n  monolith: { url: ${monolith.url} }\n  listings: { url: ${listings.url} }\ngroups:\n  catalog: { mode: monolith, target: listings }\nroutes:\n  - name: listings\n    group: catalog\n    match: { path: /api/listings/* }\ndefault: monolith\n`,
    );
    const preview = { 'x-strangler-preview': 'group:catalog', 'x-strangler-token': ADMIN_TOKEN };
    expect(await servedBy('/api/listings/7', { headers: preview })).toBe('listings');
    expect(await servedBy('/', { headers: preview })).toBe('monolith');
    expect(await servedBy('/api/listings/7')).toBe('monolith');
    expect(await servedBy('/api/listings/7', { headers: { 'x-strangler-preview': 'group:catalog' } })).toBe('monolith');
    const metrics = await (await fetch(`${proxy.adminUrl}/__strangler/metrics`)).text();
    expect(metrics).toMatch(/^strangler_preview_ignored_total 1$/m);
  });

  it('when the preview names a group and an upstream (group:<name>=<upstream>), then only that group’s routes go to that upstream; an unknown upstream is ignored', async () => {
    proxy = await startTestProxy(
      `version: 1\nupstreams:\n  monolith: { url: ${monolith.url} }\n  listings: { url: ${listings.url} }\n  listings-green: { url: ${orders.url} }\ngroups:\n  catalog: { mode: service, target: listings }\nroutes:\n  - name: listings\n    group: catalog\n    match: { path: /api/listings/* }\ndefault: monolith\n`,
    );
    const green = { 'x-strangler-preview': 'group:catalog=listings-green', 'x-strangler-token': ADMIN_TOKEN };
    // The fake upstream behind `listings-green` answers as `orders`.
    expect(await servedBy('/api/listings/7', { headers: green })).toBe('orders');
    expect(await servedBy('/', { headers: green })).toBe('monolith');
    expect(await servedBy('/api/listings/7')).toBe('listings');
    expect(
      await servedBy('/api/listings/7', { headers: { 'x-strangler-preview': 'group:catalog=nowhere', 'x-strangler-token': ADMIN_TOKEN } }),
    ).toBe('listings');
    expect(await servedBy('/api/listings/7', { headers: { 'x-strangler-preview': 'group:catalog=listings-green' } })).toBe('listings');
    const metrics = await (await fetch(`${proxy.adminUrl}/__strangler/metrics`)).text();
    expect(metrics).toMatch(/^strangler_preview_ignored_total 2$/m);
  });

  it('when the token is missing or wrong, then the header is ignored, counted and not passed on', async () => {
    proxy = await startTestProxy(table({ monolith: monolith.url, listings: listings.url }, ''));
    expect(await servedBy('/api/listings', { headers: { 'x-strangler-preview': 'listings' } })).toBe('monolith');
    expect(
      await servedBy('/api/listings', { headers: { 'x-strangler-preview': 'listings', 'x-strangler-token': 'wrong-token-wrong-token' } }),
    ).toBe('monolith');
    expect(monolith.seen.at(-1)!.headers['x-strangler-preview']).toBeUndefined();
    const metrics = await (await fetch(`${proxy.adminUrl}/__strangler/metrics`)).text();
    expect(metrics).toMatch(/^strangler_preview_ignored_total 2$/m);
  });
});

describe('admin', () => {
  it('when /__strangler/* is asked on the public port, then 404 and nothing is forwarded', async () => {
    proxy = await startTestProxy(table({ monolith: monolith.url }, ''));
    const before = monolith.count();
    for (const path of ['/__strangler/routes', '/__STRANGLER/metrics', '/x/../__strangler/reload']) {
      const res = await fetch(proxy.url + path, { method: path.endsWith('reload') ? 'POST' : 'GET' });
      expect(res.status, path).toBe(404);
    }
    expect(monolith.count()).toBe(before);
  });

  it('when routes and explain are asked on the admin port, then they describe the table and a decision', async () => {
    proxy = await startTestProxy(
      table(
        { monolith: monolith.url, listings: listings.url },
        `  - name: listings-read
    match: { methods: [GET], path: /api/listings/:id? }
    mode: canary
    target: listings
    weight: 25`,
      ),
    );
    const routes = await (await fetch(`${proxy.adminUrl}/__strangler/routes`, { headers: ADMIN_AUTH })).json();
    expect(routes).toMatchObject({
      default: 'monolith',
      routes: [{ name: 'listings-read', mode: 'canary', weight: 25, path: '/api/listings/:id?', line: 6 }],
    });
    const explain = await (
      await fetch(`${proxy.adminUrl}/__strangler/explain?method=GET&path=/api/listings/9&user=alice`, { headers: ADMIN_AUTH })
    ).json();
    expect(explain).toMatchObject({ route: { name: 'listings-read', line: 6 }, mode: 'canary' });
    expect(explain.fallback).toBe(explain.target === 'listings' ? 'monolith' : null);
    expect(explain.reason).toMatch(/25% canary of group listings-read; this user's bucket \d+\.\d\d is (inside|outside) it/);
    const none = await (await fetch(`${proxy.adminUrl}/__strangler/explain?method=POST&path=/api/orders`, { headers: ADMIN_AUTH })).json();
    expect(none).toMatchObject({ route: null, target: 'monolith', reason: 'no route matches; the default upstream monolith' });
    expect((await fetch(`${proxy.adminUrl}/__strangler/healthz`)).status).toBe(200);
    expect((await fetch(`${proxy.adminUrl}/__strangler/readyz`)).status).toBe(200);
  });

  it('when a state-changing admin call has no token or a wrong one, then 401', async () => {
    proxy = await startTestProxy(table({ monolith: monolith.url }, ''));
    expect((await fetch(`${proxy.adminUrl}/__strangler/reload`, { method: 'POST' })).status).toBe(401);
    expect(
      (await fetch(`${proxy.adminUrl}/__strangler/reload`, { method: 'POST', headers: { authorization: 'Bearer nope' } })).status,
    ).toBe(401);
    const ok = await fetch(`${proxy.adminUrl}/__strangler/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ reloaded: false });
  });
});
