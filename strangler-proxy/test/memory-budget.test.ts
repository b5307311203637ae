import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProxyConfig } from '../src/config/proxy-config.ts';
import { FakeUpstream } from './support/fake-upstream.ts';
import { startTestProxy, table, type TestProxy } from './support/proxy-harness.ts';
import { statusOf } from './support/raw-http.ts';

/**
 * Bodies are buffered whole (so a fallback can resend them), which makes memory a function of how
 * many clients are sending at once. One slow client per connection, each just under the body limit,
 * must not add up to more than the proxy's budget; past it, answers are fast and say to retry.
 */
let upstream: FakeUpstream;
let proxy: TestProxy;
const BODY = 100 * 1024;

beforeAll(async () => {
  upstream = await new FakeUpstream('monolith').start();
  proxy = await startTestProxy(table({ monolith: upstream.url }, ''), {
    MAX_BODY_BYTES: String(BODY),
    MAX_BUFFERED_BYTES: String(10 * BODY),
    MAX_CONNECTIONS: '40',
  });
});
afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

/** Opens a connection that declares a body of `length` bytes, sends `sent` of them and waits; collects what comes back. */
function slowUpload(length: number, sent: number): { socket: net.Socket; answer: Promise<string> } {
  const { port } = new URL(proxy.url);
  const socket = net.connect(Number(port), '127.0.0.1');
  let text = '';
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(text));
  });
  socket.on('connect', () =>
    socket.write(
      `POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n${'x'.repeat(sent)}`,
    ),
  );
  return { socket, answer };
}

describe('the buffered-bytes budget', () => {
  it('when more clients hold bodies just under the limit than the budget allows, then the overflow gets 503 with Retry-After at once, and the rest are not disturbed', async () => {
    const holders = Array.from({ length: 10 }, () => slowUpload(BODY - 1, 1000));
    await new Promise((r) => setTimeout(r, 300));
    const started = performance.now();
    const over = slowUpload(BODY - 1, 1000);
    const text = await Promise.race([over.answer, new Promise<string>((r) => setTimeout(() => r('(no answer)'), 2000))]);
    expect(statusOf(text)).toBe(503);
    expect(text).toContain('proxy_overloaded');
    expect(text).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(performance.now() - started).toBeLessThan(1000);
    // The holders are still being read: none was answered.
    for (const h of holders) expect(h.socket.destroyed).toBe(false);
    for (const h of holders) h.socket.destroy();
    // Their bytes go back to the budget once they leave: a new upload fits again.
    await new Promise((r) => setTimeout(r, 200));
    const res = await fetch(`${proxy.url}/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'x'.repeat(BODY - 1),
    });
    expect(res.status).toBe(200);
    expect(upstream.seen.filter((s) => s.url === '/upload')).toHaveLength(1);
  });

  it('when a chunked body would take the buffered total past the budget, then 503 as it crosses it, and the upstream sees nothing', async () => {
    // Ten holders leave ten bytes of the budget: the first chunk of 1 KiB crosses it.
    const holders = Array.from({ length: 10 }, () => slowUpload(BODY - 1, 1000));
    await new Promise((r) => setTimeout(r, 300));
    const { port } = new URL(proxy.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    let text = '';
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()).on('error', () => resolve()));
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.write('POST /chunked HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = 'y'.repeat(1024);
    for (let i = 0; i < 3 && !socket.destroyed; i++) {
      socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
    expect(statusOf(text)).toBe(503);
    expect(upstream.seen.some((s) => s.url === '/chunked')).toBe(false);
    for (const h of holders) h.socket.destroy();
  });

  it('when more connections are open than MAX_CONNECTIONS, then the extra ones are closed without being read', async () => {
    const { port } = new URL(proxy.url);
    const sockets = await Promise.all(
      Array.from(
        { length: 45 },
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(Number(port), '127.0.0.1', () => resolve(s));
            s.on('error', () => {});
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(sockets.filter((s) => s.destroyed || s.readableEnded).length).toBeGreaterThanOrEqual(5);
    for (const s of sockets) s.destroy();
  });

  it("when nothing is configured, then the body limit is the apps' own (100 KiB), with a budget and a connection cap", () => {
    const c = loadProxyConfig({ ROUTES_FILE: 'x.yaml' });
    expect(c.limits.maxBodyBytes).toBe(100 * 1024);
    expect(c.limits.maxBufferedBytes).toBe(64 * 1024 * 1024);
    expect(c.limits.maxConnections).toBe(2048);
  });
});
