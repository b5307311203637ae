import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestProxy, table, type TestProxy } from './support/proxy-harness.ts';
import { rawRequest } from './support/raw-http.ts';

/**
 * One attempt at one upstream (undici's pool), at the edges where an answer and a connection
 * part ways: an answer broken off after its headers, a client leaving before the answer.
 */
const servers: http.Server[] = [];
let proxy: TestProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function upstream(handle: http.RequestListener): Promise<string> {
  const server = http.createServer(handle);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Sends status and headers for a 1000-byte body, 10 bytes of it, then drops the connection. */
const brokenOff =
  (status: number): http.RequestListener =>
  (req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"partial"');
    setTimeout(() => req.socket.destroy(), 30);
  };

const SERVICE_ROUTE = `  - name: api
    match: { path: /api/* }
    mode: service
    target: service`;

describe('an upstream attempt', () => {
  it('when a 5xx answer to a read breaks off mid-body after the proxy chose the fallback, then the client still gets the fallback’s answer whole', async () => {
    const service = await upstream(brokenOff(500));
    const monolith = await upstream((req, res) => {
      req.resume();
      // Slower than the broken answer, so it breaks off while the fallback is under way.
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"servedBy":"monolith"}'), 150);
    });
    proxy = await startTestProxy(
      table({ monolith, service: { url: service, extra: 'breaker: { volumeThreshold: 1000 }' } }, SERVICE_ROUTE),
    );
    const res = await fetch(`${proxy.url}/api/listings`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ servedBy: 'monolith' });
  });

  it('when the upstream’s answer breaks off after its headers, then the client’s answer breaks off too, never passed off as complete', async () => {
    const monolith = await upstream(brokenOff(200));
    proxy = await startTestProxy(table({ monolith }, ''));
    const res = await fetch(`${proxy.url}/api/listings`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('when the client leaves before the upstream answers, then the upstream request is closed, not left running', async () => {
    let closedUnanswered: () => void;
    const closed = new Promise<void>((r) => (closedUnanswered = r));
    const monolith = await upstream((req, res) => {
      req.resume();
      res.on('close', () => {
        if (!res.writableFinished) closedUnanswered();
      });
    });
    proxy = await startTestProxy(table({ monolith }, ''));
    const abort = new AbortController();
    const call = fetch(`${proxy.url}/api/slow`, { signal: abort.signal }).catch(() => 'aborted');
    setTimeout(() => abort.abort(), 100);
    expect(await call).toBe('aborted');
    await expect(Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 2000))])).resolves.toBe(
      'closed',
    );
  });

  it('when an HTTP/1.0 request comes without a Host, then the upstream is sent its own host, and every header the proxy forwards', async () => {
    let seen: http.IncomingHttpHeaders = {};
    const monolith = await upstream((req, res) => {
      seen = req.headers;
      req.resume();
      res.end('{}');
    });
    proxy = await startTestProxy(table({ monolith }, ''));
    const { text } = await rawRequest(proxy.url, 'GET /api/x HTTP/1.0\r\nX-Custom: a\r\nAccept: */*\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(seen.host).toBe(new URL(monolith).host);
    expect(seen['x-custom']).toBe('a');
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-request-id']).toMatch(/^[0-9a-f]{16}-[0-9a-z]+$/);
  });

  /** An app whose keep-alive timer fires as the proxy reuses the connection: it answers the first request of each connection, and drops the connection when another arrives on it. */
  async function closesOnReuse(): Promise<{ url: string; received: string[]; close: () => void }> {
    const received: string[] = [];
    const server = net.createServer((socket) => {
      let served = 0;
      socket.on('data', (chunk) => {
        received.push(chunk.toString('latin1').split('\r\n')[0]!);
        if (served++ === 0)
          socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
        else socket.destroy();
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => server.close() };
  }

  it('when the upstream closes a kept-alive connection just as a read is written on it, then the read is sent again on a fresh connection, not answered 502', async () => {
    const app = await closesOnReuse();
    try {
      proxy = await startTestProxy(table({ monolith: app.url }, ''));
      expect((await fetch(`${proxy.url}/listings`)).status).toBe(200);
      const again = await fetch(`${proxy.url}/listings`);
      expect(again.status).toBe(200);
      expect(await again.text()).toBe('ok');
      expect(app.received).toEqual(['GET /listings HTTP/1.1', 'GET /listings HTTP/1.1', 'GET /listings HTTP/1.1']);
    } finally {
      app.close();
    }
  });

  it('when the upstream closes a kept-alive connection just as a write is written on it, then the write is answered 502 and never sent again', async () => {
    const app = await closesOnReuse();
    try {
      proxy = await startTestProxy(table({ monolith: app.url }, ''));
      expect((await fetch(`${proxy.url}/listings`)).status).toBe(200);
      // The write reuses the connection the read was answered on: the upstream may have read it, so it is not sent twice.
      const write = await fetch(`${proxy.url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(write.status).toBe(502);
      expect(((await write.json()) as { error: { code: string } }).error.code).toBe('upstream_reset');
      await new Promise((r) => setTimeout(r, 100));
      expect(app.received).toEqual(['GET /listings HTTP/1.1', 'POST /orders HTTP/1.1']);
    } finally {
      app.close();
    }
  });
});
