import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileRouteTable } from '../src/config/compile-route-table.ts';
import { normalizePath } from '../src/routing/normalize-path.ts';
import { FakeUpstream } from './support/fake-upstream.ts';
import { startTestProxy, table } from './support/proxy-harness.ts';
import { rawRequest, statusOf } from './support/raw-http.ts';

/**
 * The proxy decides a route from the request target; the upstream serves whatever its own router
 * (express, in every app here) makes of the target the proxy forwards. If the two ever disagree, a
 * client can reach a route the table says is elsewhere, or frozen. Each route below exists in both,
 * in the same order, with the same meaning.
 */
const ROUTES: [name: string, proxyPattern: string, expressPattern: string][] = [
  ['orders-cancel', '/api/orders/:id/cancel', '/api/orders/:id/cancel'],
  ['orders-one', '/api/orders/:id', '/api/orders/:id'],
  ['orders', '/api/orders', '/api/orders'],
  ['listings', '/api/listings/:id?', '/api/listings{/:id}'],
  ['auth', '/api/auth/*', '/api/auth{/*rest}'],
  ['page', '/listings/:id', '/listings/:id'],
];

const routeTable = compileRouteTable(
  table(
    { monolith: 'http://127.0.0.1:1' },
    ROUTES.map(([name, path]) => `  - name: ${name}\n    match: { path: ${path} }\n    mode: monolith`).join('\n'),
  ),
);

let server: http.Server;
let base: string;
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

beforeAll(async () => {
  // Express as the apps configure it: its defaults (case-insensitive, non-strict trailing slash).
  const app = express();
  for (const [name, , pattern] of ROUTES) app.all(pattern, (_req, res) => void res.type('text').send(name));
  app.use((_req, res) => void res.type('text').send('default'));
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  agent.destroy();
  await new Promise((r) => server?.close(r));
});

function expressRoute(target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${target}`, { agent, method: 'GET' }, (res) => {
      let text = '';
      res
        .setEncoding('utf8')
        .on('data', (c: string) => (text += c))
        .on('end', () => resolve(text));
    });
    req.on('error', reject).end();
  });
}

const proxyRoute = (segments: string[]): string =>
  routeTable.match({ method: 'GET', segments, headers: {}, cookies: new Map() })?.name ?? 'default';

// Segments rich in what routers disagree about: case, encodings, dots, fragments, reserved marks.
const segment = fc.oneof(
  fc.constantFrom(
    'api',
    'API',
    'Api',
    'orders',
    'ORDERS',
    '%6frders',
    '%6F%72ders',
    'listings',
    'auth',
    'listings',
    '7',
    '%37',
    'cancel',
    'CANCEL',
  ),
  fc.constantFrom(
    '',
    '.',
    '..',
    '%2e',
    '%2E%2e',
    '#',
    'orders#',
    'x#y',
    '%23',
    ';',
    'a;b',
    'orders;x',
    '%20',
    '~',
    ':',
    '@',
    '*',
    '(x)',
    'caf%C3%A9',
    '%c3%a9',
  ),
  fc.string({ unit: fc.constantFrom(...'aZ09-._~!$&\'()*+,;=:@%#"<>^`{|}[]'.split('')), maxLength: 5 }),
);
const query = fc.option(fc.string({ unit: fc.constantFrom(...'a=1&?/#%:{}'.split('')), maxLength: 6 }), { nil: undefined });
const target = fc
  .tuple(fc.array(segment, { maxLength: 5 }), fc.boolean(), query)
  .map(([s, slash, q]) => `/${s.join('/')}${slash ? '/' : ''}${q === undefined ? '' : `?${q}`}`);

describe('the proxy and the upstream router read a request target alike', () => {
  it('property: for any request target the proxy forwards, express serves the route the proxy decided', async () => {
    let forwarded = 0;
    await fc.assert(
      fc.asyncProperty(target, async (t) => {
        const n = normalizePath(t);
        if (!n.ok) return; // refused with 400: nothing reaches an upstream
        forwarded++;
        expect(await expressRoute(n.path + n.query)).toBe(proxyRoute(n.segments));
      }),
      { numRuns: 600 },
    );
    // The property must exercise forwarding, not only refusals.
    expect(forwarded).toBeGreaterThan(100);
  });

  it('when the orders group is served by its service and frozen, then POST /api/orders# reaches neither side', async () => {
    const [monolith, orders] = await Promise.all([new FakeUpstream('monolith').start(), new FakeUpstream('orders').start()]);
    const proxy = await startTestProxy(
      table(
        { monolith: monolith.url, orders: orders.url },
        `  - name: orders\n    match: { path: /api/orders/* }\n    mode: service\n    target: orders\n    frozen: true`,
      ),
    );
    try {
      for (const path of ['/api/orders#', '/api/orders#x', '/api/ORDERS#']) {
        const res = await rawRequest(
          proxy.url,
          `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
        );
        expect(statusOf(res.text)).toBe(400);
        expect(res.text).toContain('invalid_path');
      }
      const frozen = await rawRequest(
        proxy.url,
        'POST /api/orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
      );
      expect(statusOf(frozen.text)).toBe(503);
      expect(monolith.count()).toBe(0);
      expect(orders.count()).toBe(0);
    } finally {
      await proxy.close();
      await Promise.all([monolith.close(), orders.close()]);
    }
  });
});
