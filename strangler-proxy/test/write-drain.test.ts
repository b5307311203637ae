import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from './support/fake-upstream.ts';
import { ADMIN_TOKEN, startTestProxy, table, type TestProxy } from './support/proxy-harness.ts';

/**
 * A writer switch asks each proxy for the writes still running before it moves the writer. The
 * proxy's answer to the client is not the end of a write: after a 504 the upstream may still be
 * committing it, so the attempt stays counted for as long as the upstream's timeout allows it to run.
 */
let slow: FakeUpstream;
let monolith: FakeUpstream;
let proxy: TestProxy;

beforeAll(async () => {
  [slow, monolith] = await Promise.all([new FakeUpstream('orders').start(), new FakeUpstream('monolith').start()]);
  slow.commitAbandoned = true;
  slow.behaviour = { kind: 'ok', delayMs: 500, status: 201 };
  proxy = await startTestProxy(
    table(
      { monolith: monolith.url, orders: { url: slow.url, extra: 'timeoutMs: 300, breaker: { volumeThreshold: 1000 }' } },
      `  - name: orders
    match: { path: /api/orders/* }
    mode: service
    target: orders`,
    ),
  );
});
afterAll(async () => {
  await proxy?.close();
  await Promise.all([slow?.close(), monolith?.close()]);
});

const writesInFlight = async (): Promise<{ inFlight: number }> =>
  (await fetch(`${proxy.adminUrl}/__strangler/writes`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json() as Promise<{
    inFlight: number;
  }>;

describe('writes in flight, as a writer switch sees them', () => {
  it("when a write's client got 504 while the upstream still works on it, then the proxy counts the write in flight until the upstream's timeout has passed", async () => {
    const started = performance.now();
    const res = await fetch(`${proxy.url}/api/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(504);
    expect((await writesInFlight()).inFlight).toBe(1);
    await expect.poll(async () => (await writesInFlight()).inFlight, { timeout: 3000, interval: 50 }).toBe(0);
    // Held for the upstream's timeout after the proxy gave up (300 ms + 300 ms), not released with the answer.
    expect(performance.now() - started).toBeGreaterThanOrEqual(550);
    // Meanwhile the upstream did commit it: exactly the write a switch must wait for.
    expect(slow.writes.size).toBe(1);
  });

  it('when a write is answered, then its attempt is counted out with its answer', async () => {
    slow.behaviour = { kind: 'ok', status: 201 };
    const res = await fetch(`${proxy.url}/api/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(201);
    await res.arrayBuffer();
    await expect.poll(async () => (await writesInFlight()).inFlight, { timeout: 1000, interval: 20 }).toBe(0);
  });
});
