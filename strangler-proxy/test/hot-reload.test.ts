import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from './support/fake-upstream.ts';
import { startTestProxy, table, type TestProxy } from './support/proxy-harness.ts';

let monolith: FakeUpstream;
let service: FakeUpstream;

beforeAll(async () => {
  [monolith, service] = await Promise.all([new FakeUpstream('monolith').start(), new FakeUpstream('service').start()]);
});
afterAll(async () => {
  await Promise.all([monolith?.close(), service?.close()]);
});

const tableFor = (mode: 'monolith' | 'service', upstreams: Record<string, string> = { monolith: monolith.url, service: service.url }) =>
  table(
    upstreams,
    mode === 'service'
      ? `  - name: api
    match: { path: /api/* }
    mode: service
    target: service`
      : `  - name: api
    match: { path: /api/* }
    mode: monolith`,
  );

function get(url: string, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      })
      .on('error', reject);
  });
}

async function waitForVersion(proxy: TestProxy, above: number): Promise<number> {
  const deadline = Date.now() + 5000;
  while (proxy.store.current.version <= above) {
    if (Date.now() > deadline) throw new Error('the reload did not happen within 5 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  return proxy.store.current.version;
}

describe('hot reload', () => {
  it('when the table is swapped 20 times under 20 000 requests, then every request succeeds', async () => {
    const proxy = await startTestProxy(tableFor('monolith'));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    try {
      let done = 0;
      const failures: string[] = [];
      const total = 20_000;
      const worker = async (): Promise<void> => {
        while (done < total) {
          done++;
          try {
            const status = await get(`${proxy.url}/api/items/${done}`, agent);
            if (status !== 200) failures.push(`status ${status}`);
          } catch (err) {
            failures.push(String(err));
          }
        }
      };
      const load = Promise.all(Array.from({ length: 32 }, worker));
      let version = proxy.store.current.version;
      for (let i = 0; i < 20; i++) {
        await proxy.writeRoutes(tableFor(i % 2 === 0 ? 'service' : 'monolith'));
        version = await waitForVersion(proxy, version);
        await new Promise((r) => setTimeout(r, 20));
      }
      await load;
      expect(done).toBeGreaterThanOrEqual(total);
      expect(failures).toEqual([]);
      const metrics = await (await fetch(`${proxy.adminUrl}/__strangler/metrics`)).text();
      expect(metrics).toMatch(/^strangler_config_reloads_total\{result="ok"\} 20$/m);
    } finally {
      agent.destroy();
      await proxy.close();
    }
  }, 120_000);

  it('when a request is in flight during a swap, then it finishes on the table it started with', async () => {
    const proxy = await startTestProxy(tableFor('service'));
    try {
      service.behaviour = { kind: 'ok', delayMs: 400 };
      const inFlight = fetch(`${proxy.url}/api/slow`);
      await new Promise((r) => setTimeout(r, 50));
      const before = proxy.store.current.version;
      await proxy.writeRoutes(tableFor('monolith'));
      await waitForVersion(proxy, before);
      const after = await fetch(`${proxy.url}/api/fast`);
      expect(after.headers.get('x-served-by')).toBe('monolith');
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(res.headers.get('x-served-by')).toBe('service');
    } finally {
      service.behaviour = { kind: 'ok' };
      await proxy.close();
    }
  });

  it('when the new file is invalid, then it is refused and counted, and the last good table stays', async () => {
    const proxy = await startTestProxy(tableFor('service'));
    try {
      const good = proxy.store.current;
      const reloaded = new Promise((resolve) => proxy.store.once('reload', resolve));
      await proxy.writeRoutes(tableFor('service').replace('target: service', 'target: nowhere'));
      const result = (await reloaded) as { ok: boolean; error?: Error };
      expect(result.ok).toBe(false);
      expect(result.error!.message).toContain('unknown upstream "nowhere"');
      expect(proxy.store.current).toBe(good);
      expect((await fetch(`${proxy.url}/api/x`)).headers.get('x-served-by')).toBe('service');
      const metrics = await (await fetch(`${proxy.adminUrl}/__strangler/metrics`)).text();
      expect(metrics).toMatch(/^strangler_config_reloads_total\{result="failed"\} 1$/m);
      expect(metrics).toContain(`strangler_config_info{version="${good.version}",hash="${good.hash}"} 1`);
    } finally {
      await proxy.close();
    }
  });
});

/** A WebSocket upstream that completes the handshake and then echoes raw bytes back. */
async function startEchoSocketServer(name: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => res.end('not a websocket'));
  server.on('upgrade', (req, socket) => {
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Served-By: ${name}\r\n\r\n`,
    );
    socket.on('data', (d) => socket.write(d));
    // http.Server sockets are half-open: close ours when the proxy closes its side.
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('WebSocket upgrades', () => {
  it('when a socket is open, then it is tunnelled to its upstream and survives a reload that re-routes new ones', async () => {
    const a = await startEchoSocketServer('ws-a');
    const b = await startEchoSocketServer('ws-b');
    const proxy = await startTestProxy(tableFor('service', { monolith: a.url, service: b.url }));
    try {
      const { port, host } = new URL(proxy.url);
      const socket = net.connect(Number(port), '127.0.0.1');
      let text = '';
      socket.on('data', (d) => (text += d));
      socket.write(
        `GET /api/live HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      );
      const waitFor = async (s: string): Promise<void> => {
        const deadline = Date.now() + 3000;
        while (!text.includes(s)) {
          if (Date.now() > deadline) throw new Error(`never saw ${s} in ${text}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      await waitFor('101 Switching Protocols');
      expect(text.toLowerCase()).toContain('x-served-by: ws-b');
      socket.write('ping-1');
      await waitFor('ping-1');

      const before = proxy.store.current.version;
      await proxy.writeRoutes(tableFor('monolith', { monolith: a.url, service: b.url }));
      await waitForVersion(proxy, before);
      socket.write('ping-after-reload');
      await waitFor('ping-after-reload');
      expect(socket.destroyed).toBe(false);
      socket.destroy();
    } finally {
      await proxy.close();
      await a.close();
      await b.close();
    }
  });
});
