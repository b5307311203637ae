import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBlackhole } from './support/blackhole.ts';
import { FakeUpstream, type Behaviour, type Seen } from './support/fake-upstream.ts';
import { startTestProxy, table, type TestProxy } from './support/proxy-harness.ts';

/**
 * {failure of the target} × {GET, PUT, POST, POST with Idempotency-Key}: who answers, with what,
 * and how many writes the upstreams committed. The two upstreams share one store of writes keyed
 * by Idempotency-Key, as the monolith and a service do once data follows the route.
 */
type Failure = 'breaker open' | 'refused' | 'connect timeout' | 'timeout after sent' | 'reset' | '5xx';
type Call = 'GET' | 'PUT' | 'POST' | 'POST+key';

// Expected answer per cell: 'fallback' = the monolith answered 200; otherwise the status the client gets.
const EXPECTED: Record<Failure, Record<Call, 'fallback' | number>> = {
  'breaker open': { GET: 'fallback', PUT: 'fallback', POST: 'fallback', 'POST+key': 'fallback' },
  refused: { GET: 'fallback', PUT: 'fallback', POST: 'fallback', 'POST+key': 'fallback' },
  'connect timeout': { GET: 'fallback', PUT: 'fallback', POST: 'fallback', 'POST+key': 'fallback' },
  'timeout after sent': { GET: 'fallback', PUT: 504, POST: 504, 'POST+key': 'fallback' },
  reset: { GET: 'fallback', PUT: 502, POST: 502, 'POST+key': 'fallback' },
  '5xx': { GET: 'fallback', PUT: 500, POST: 500, 'POST+key': 'fallback' },
};

const writes = new Map<string, Seen>();
let monolith: FakeUpstream;
let service: FakeUpstream;
let blackhole: { url: string; close(): void };
let refusedUrl: string;

beforeAll(async () => {
  monolith = await new FakeUpstream('monolith', writes).start();
  service = await new FakeUpstream('service', writes).start();
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
  const breaker = failure === 'breaker open' ? 'breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 60000 }' : 'breaker: { volumeThreshold: 1000 }';
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
    }
    // Give a slow target time to finish (or not) before counting.
    await new Promise((r) => setTimeout(r, failure === 'timeout after sent' ? 700 : 20));
    const committed = [...writes.values()].filter((w) => w.url === `/api/items/${id}`).length;
    expect(committed).toBeLessThanOrEqual(1);
    if (c !== 'GET' && expected === 'fallback') expect(committed).toBe(1);
    if (failure === 'timeout after sent' && c !== 'GET') {
      // The timed-out attempt was aborted, so the slow target rolled it back instead of finishing it
      // alongside the monolith's retry.
      const attempt = service.seen.find((s) => s.url === `/api/items/${id}`)!;
      expect(attempt.abortedAt).toBeDefined();
      expect([...writes.values()].some((w) => w === attempt)).toBe(false);
    }
  });
});

describe('the fallback concurrency cap', () => {
  it('when more requests fall back at once than the cap, then the overflow gets 503 with Retry-After, fast', async () => {
    monolith.behaviour = { kind: 'ok', delayMs: 300 };
    const proxy = await startTestProxy(
      table({ monolith: monolith.url, service: { url: refusedUrl, extra: 'breaker: { volumeThreshold: 1000 }' } }, `  - name: r
    match: { path: /api/* }
    mode: service
    target: service`),
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
    const proxy = await startTestProxy(table({ monolith: { url: refusedUrl, extra: 'breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 30000 }' } }, ''));
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
