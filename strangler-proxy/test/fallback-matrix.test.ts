import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBlackhole } from './support/blackhole.ts';
import { FakeUpstream, type Behaviour, type Seen } from './support/fake-upstream.ts';
import { startTestProxy, table, type TestProxy } from './support/proxy-harness.ts';

/**
 * {failure of the target} × {GET, PUT, POST, POST with Idempotency-Key}: who answers, with what,
 * and how many writes the upstreams committed. Each upstream keeps its own store of writes (keyed
 * by Idempotency-Key when there is one), as the monolith and a service keep their own idempotency
 * records: a key de-duplicates on one side only, so a write that may have reached the target must
 * never be sent to the monolith too, key or no key.
 */
type Failure = 'breaker open' | 'refused' | 'connect timeout' | 'timeout after sent' | 'reset' | '5xx';
type Call = 'GET' | 'PUT' | 'POST' | 'POST+key';

// Expected answer per cell: 'fallback' = the monolith answered 200; otherwise the status the client gets.
const EXPECTED: Record<Failure, Record<Call, 'fallback' | number>> = {
  'breaker open': { GET: 'fallback', PUT: 'fallback', POST: 'fallback', 'POST+key': 'fallback' },
  refused: { GET: 'fallback', PUT: 'fallback', POST: 'fallback', 'POST+key': 'fallback' },
  'connect timeout': { GET: 'fallback', PUT: 'fallback', POST: 'fallback', 'POST+key': 'fallback' },
  'timeout after sent': { GET: 'fallback', PUT: 504, POST: 504, 'POST+key': 504 },
  reset: { GET: 'fallback', PUT: 502, POST: 502, 'POST+key': 502 },
  '5xx': { GET: 'fallback', PUT: 500, POST: 500, 'POST+key': 500 },
};

/** Writes committed on either side for one path: what a doubled write would show as 2. */
const committed = (url: string): Seen[] => [...monolith.writes.values(), ...service.writes.values()].filter((w) => w.url === url);
let monolith: FakeUpstream;
let service: FakeUpstream;
let blackhole: { url: string; close(): void };
let refusedUrl: string;

beforeAll(async () => {
  monolith = await new FakeUpstream('monolith').start();
  service = await new FakeUpstream('service').start();
  blackhole = await startBlackhole();
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  refusedUrl = `http://127.0.0.1:${(s.address() as net.AddressInfo).port}`;
  await new Promise((r) => s.close(r));
});
afterAll(async () => {
  await Promise.all([monolith?.close(), service?.close()]);
  blackhole?.close();
});

async function proxyFor(failure: Failure): Promise<TestProxy> {
  const url = failure === 'refused' ? refusedUrl : failure === 'connect timeout' ? blackhole.url : service.url;
  const breaker =
    failure === 'breaker open'
      ? 'breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 60000 }'
      : 'breaker: { volumeThreshold: 1000 }';
  const behaviour: Record<Failure, Behaviour> = {
    'breaker open': { kind: 'status', status: 500 },
    refused: { kind: 'ok' },
    'connect timeout': { kind: 'ok' },
    'timeout after sent': { kind: 'ok', delayMs: 600 },
    reset: { kind: 'reset' },
    '5xx': { kind: 'status', status: 500 },
  };
  service.behaviour = behaviour[failure];
  const proxy = await startTestProxy(
    table(
      { monolith: monolith.url, service: { url, extra: `timeoutMs: 300, connectTimeoutMs: 200, ${breaker}` } },
      `  - name: all-to-service
    match: { path: /api/* }
    mode: service
    target: service`,
    ),
  );
  if (failure === 'breaker open') {
    // Trip it: one failing read (which itself falls back) opens the breaker.
    await (await fetch(`${proxy.url}/api/trip`)).arrayBuffer();
    service.behaviour = { kind: 'ok' };
  }
  return proxy;
}

async function call(proxy: TestProxy, c: Call, id: string): Promise<Response> {
  const method = c === 'POST+key' ? 'POST' : c;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (c === 'POST+key') headers['idempotency-key'] = `key-${id}`;
  return fetch(`${proxy.url}/api/items/${id}`, { method, headers, body: method === 'GET' ? undefined : JSON.stringify({ id }) });
}

describe.each(Object.keys(EXPECTED) as Failure[])('when the target fails by %s', (failure) => {
  let proxy: TestProxy;
  beforeAll(async () => {
    proxy = await proxyFor(failure);
  });
  afterAll(() => proxy?.close());

  it.each(['GET', 'PUT', 'POST', 'POST+key'] as Call[])('then %s is answered as the matrix says, with no duplicate write', async (c) => {
    const id = `${failure.replace(/\W/g, '')}-${c.replace(/\W/g, '')}`;
    const res = await call(proxy, c, id);
    const body = await res.json();
    const expected = EXPECTED[failure][c];
    if (expected === 'fallback') {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-served-by')).toBe('monolith');
    } else {
      expect(res.status).toBe(expected);
      if (expected !== 500) expect(body.error.code).toBe(expected === 504 ? 'upstream_timeout' : 'upstream_reset');
      expect(monolith.seen.some((s) => s.url === `/api/items/${id}`)).toBe(false);
      // The proxy's own 502/504 echo the key to retry with; a 500 is the target's own, definite answer.
      if (c === 'POST+key' && expected !== 500) expect(res.headers.get('idempotency-key')).toBe(`key-${id}`);
    }
    // Give a slow target time to finish (or not) before counting.
    await new Promise((r) => setTimeout(r, failure === 'timeout after sent' ? 700 : 20));
    const writes = committed(`/api/items/${id}`);
    expect(writes.length).toBeLessThanOrEqual(1);
    if (c !== 'GET' && expected === 'fallback') expect(writes).toHaveLength(1);
    if (failure === 'timeout after sent' && c !== 'GET') {
      // The timed-out attempt was aborted, so the slow target rolled it back.
      const attempt = service.seen.find((s) => s.url === `/api/items/${id}`)!;
      expect(attempt.abortedAt).toBeDefined();
      expect(writes).toHaveLength(0);
    }
  });
});

describe('a keyed write that may have reached the target', () => {
  it('when a keyed order times out at the target after it was sent, then it is never sent to the monolith, and its retry with the same key goes back to the target', async () => {
    // The target commits even though the proxy gave up waiting: the worst case for a double order.
    const slow = await new FakeUpstream('service').start();
    const mono = await new FakeUpstream('monolith').start();
    slow.commitAbandoned = true;
    slow.behaviour = { kind: 'ok', delayMs: 400, status: 201 };
    const routesIn = (mode: string): string =>
      table(
        { monolith: mono.url, service: { url: slow.url, extra: 'timeoutMs: 200, breaker: { volumeThreshold: 1000 }' } },
        `  - name: orders
    match: { path: /api/orders/* }
    mode: ${mode}
    target: service`,
      );
    const proxy = await startTestProxy(routesIn('service'));
    try {
      // As a browser would: the proxy's user cookie from the first answer goes with the retry.
      let cookie = '';
      const send = async (): Promise<Response> => {
        const res = await fetch(`${proxy.url}/api/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': 'order-1', cookie },
          body: '{"listing":7}',
        });
        cookie ||= (res.headers.get('set-cookie') ?? '').split(';')[0]!;
        return res;
      };
      const first = await send();
      expect(first.status).toBe(504);
      const body = await first.json();
      expect(body.error.code).toBe('upstream_timeout');
      expect(body.error.idempotencyKey).toBe('order-1');
      expect(first.headers.get('idempotency-key')).toBe('order-1');
      await new Promise((r) => setTimeout(r, 400));
      expect(mono.seen).toHaveLength(0);
      // The retry goes where the first attempt went — even after the group is rolled back to the
      // monolith — since only that side's record of the key can tell whether it was applied.
      expect(cookie).toMatch(/^strangler_uid=/);
      slow.behaviour = { kind: 'ok', status: 201 };
      const before = proxy.store.current.version;
      await proxy.writeRoutes(routesIn('monolith'));
      await expect.poll(() => proxy.store.current.version, { timeout: 5000 }).toBeGreaterThan(before);
      const retry = await send();
      expect(retry.status).toBe(201);
      expect(retry.headers.get('x-served-by')).toBe('service');
      expect(mono.seen).toHaveLength(0);
      expect(mono.writes.size + slow.writes.size).toBe(1);
    } finally {
      await proxy.close();
      await Promise.all([slow.close(), mono.close()]);
    }
  });

  it('when a keyed write fell back because the target refused the connection, then its retry goes to the monolith that took it, even once the target is back', async () => {
    const mono = await new FakeUpstream('monolith').start();
    const back = await new FakeUpstream('service').start();
    const routes = (url: string): string =>
      table(
        { monolith: mono.url, service: { url, extra: 'breaker: { volumeThreshold: 1000 }' } },
        `  - name: orders
    match: { path: /api/orders/* }
    mode: service
    target: service`,
      );
    const proxy = await startTestProxy(routes(refusedUrl));
    try {
      let cookie = '';
      const send = async (): Promise<Response> => {
        const res = await fetch(`${proxy.url}/api/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': 'order-2', cookie },
          body: '{"listing":8}',
        });
        cookie ||= (res.headers.get('set-cookie') ?? '').split(';')[0]!;
        return res;
      };
      const first = await send();
      expect(first.status).toBe(200);
      expect(first.headers.get('x-served-by')).toBe('monolith');
      const before = proxy.store.current.version;
      await proxy.writeRoutes(routes(back.url));
      await expect.poll(() => proxy.store.current.version, { timeout: 5000 }).toBeGreaterThan(before);
      const retry = await send();
      expect(retry.headers.get('x-served-by')).toBe('monolith');
      expect(back.seen).toHaveLength(0);
    } finally {
      await proxy.close();
      await Promise.all([mono.close(), back.close()]);
    }
  });
});

describe('the fallback concurrency cap', () => {
  it('when more requests fall back at once than the cap, then the overflow gets 503 with Retry-After, fast', async () => {
    monolith.behaviour = { kind: 'ok', delayMs: 300 };
    const proxy = await startTestProxy(
      table(
        { monolith: monolith.url, service: { url: refusedUrl, extra: 'breaker: { volumeThreshold: 1000 }' } },
        `  - name: r
    match: { path: /api/* }
    mode: service
    target: service`,
      ),
      { FALLBACK_CONCURRENCY: '3' },
    );
    try {
      const started = performance.now();
      const results = await Promise.all(
        Array.from({ length: 8 }, async () => {
          const res = await fetch(`${proxy.url}/api/x`);
          await res.arrayBuffer();
          return { status: res.status, retryAfter: res.headers.get('retry-after'), ms: performance.now() - started };
        }),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(3);
      const overflow = results.filter((r) => r.status === 503);
      expect(overflow).toHaveLength(5);
      for (const r of overflow) {
        expect(r.retryAfter).toBe('1');
        expect(r.ms).toBeLessThan(250);
      }
    } finally {
      monolith.behaviour = { kind: 'ok' };
      await proxy.close();
    }
  });
});

describe('the default upstream itself failing', () => {
  it('when the monolith refuses, then 502 upstream_unreachable, and an open breaker gives 503 with Retry-After', async () => {
    const proxy = await startTestProxy(
      table(
        { monolith: { url: refusedUrl, extra: 'breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 30000 }' } },
        '',
      ),
    );
    try {
      const first = await fetch(`${proxy.url}/x`);
      expect(first.status).toBe(502);
      expect((await first.json()).error.code).toBe('upstream_unreachable');
      await (await fetch(`${proxy.url}/x`)).arrayBuffer();
      const open = await fetch(`${proxy.url}/x`);
      expect(open.status).toBe(503);
      expect((await open.json()).error.code).toBe('circuit_open');
      expect(Number(open.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
  });
});
