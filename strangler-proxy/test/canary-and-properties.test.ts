import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from './support/fake-upstream.ts';
import { startTestProxy, table, type TestProxy } from './support/proxy-harness.ts';
import { rawRequest, statusOf } from './support/raw-http.ts';

let monolith: FakeUpstream;
let service: FakeUpstream;
let proxy: TestProxy;
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

const canary = (weight: number) =>
  table(
    { monolith: monolith.url, service: service.url },
    `  - name: listings
    match: { path: /api/listings/* }
    mode: canary
    target: service
    weight: ${weight}`,
  );

beforeAll(async () => {
  [monolith, service] = await Promise.all([new FakeUpstream('monolith').start(), new FakeUpstream('service').start()]);
  proxy = await startTestProxy(canary(10), { SESSION_COOKIE: 'app_session' });
});
afterAll(async () => {
  agent.destroy();
  await proxy?.close();
  await Promise.all([monolith?.close(), service?.close()]);
});

function side(cookie: string, through: TestProxy = proxy): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(`${through.url}/api/listings/1`, { agent, headers: { cookie } }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.headers['x-served-by'])));
      })
      .on('error', reject);
  });
}

const uid = (i: number): string => `strangler_uid=00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const session = (sub: number): string =>
  `app_session=v1.${Buffer.from(JSON.stringify({ sid: 'x', sub, role: 'buyer', iat: 1, exp: 2 })).toString('base64url')}.sig`;

async function sides(cookies: string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < cookies.length; i += 64) out.push(...(await Promise.all(cookies.slice(i, i + 64).map((c) => side(c)))));
  return out;
}

describe('canary through the proxy', () => {
  it('when 5 000 users arrive at a 10 % canary, then 10 % ± 2 reach the target, each user always on the same side', async () => {
    const users = Array.from({ length: 5000 }, (_, i) => uid(i));
    const first = await sides(users);
    const share = first.filter((s) => s === 'service').length / users.length;
    expect(share).toBeGreaterThan(0.08);
    expect(share).toBeLessThan(0.12);
    expect(await sides(users.slice(0, 500))).toEqual(first.slice(0, 500));

    // Raising the weight only moves users from the monolith to the service.
    const before = proxy.store.current.version;
    await proxy.writeRoutes(canary(50));
    while (proxy.store.current.version === before) await new Promise((r) => setTimeout(r, 5));
    const raised = await sides(users);
    raised.forEach((s, i) => {
      if (first[i] === 'service') expect(s).toBe('service');
    });
    const raisedShare = raised.filter((s) => s === 'service').length / users.length;
    expect(raisedShare).toBeGreaterThan(0.47);
    expect(raisedShare).toBeLessThan(0.53);
  });

  it('when a user has a session, then its subject keys the split, whatever uid cookie comes with it', async () => {
    const sidesSeen = new Set<string>();
    for (let sub = 1; sub <= 60; sub++) {
      const a = await side(`${session(sub)}; ${uid(2 * sub)}`);
      const b = await side(`${uid(2 * sub + 1)}; ${session(sub)}`);
      expect(b).toBe(a);
      sidesSeen.add(a);
    }
    // Users on both sides: the subject, not a constant, decided.
    expect([...sidesSeen].sort()).toEqual(['monolith', 'service']);
  });

  it('when the proxy is not told the apps’ session cookie (no SESSION_COOKIE), then a session keys nothing: the uid cookie does', async () => {
    const plain = await startTestProxy(canary(50));
    try {
      for (let i = 1; i <= 60; i++) expect(await side(`${session(i)}; ${uid(i)}`, plain)).toBe(await side(uid(i), plain));
    } finally {
      await plain.close();
    }
  });
});

describe('property: whatever the path, the upstream host is the configured one', () => {
  it('when random paths go through the proxy, then each is refused with 400 or reaches the one upstream, normalised', async () => {
    const segment = fc.oneof(
      fc.constantFrom('..', '.', '%2e%2e', '%2f', '%5c', '\\', '%00', '%252e', 'evil.example', 'http:', '@evil.example', ':80', '%40', ''),
      fc.stringMatching(/^[a-zA-Z0-9._~%:@-]{0,8}$/),
    );
    const host = new URL(proxy.url).host;
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { maxLength: 6 }), async (segs) => {
        const target = `/${segs.join('/')}`;
        const [monolithBefore, serviceBefore] = [monolith.seen.length, service.seen.length];
        const { text } = await rawRequest(proxy.url, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, {
          waitMs: 2000,
        });
        const status = statusOf(text);
        const arrived = [...monolith.seen.slice(monolithBefore), ...service.seen.slice(serviceBefore)];
        if (status === 400) {
          expect(arrived).toEqual([]);
          return;
        }
        expect(status).toBe(200);
        expect(arrived).toHaveLength(1);
        const at = arrived[0]!;
        expect(at.headers.host).toBe(host);
        expect(at.url.startsWith('/')).toBe(true);
        expect(at.url.startsWith('//')).toBe(false);
        expect(at.url.split('?')[0]!.split('/')).not.toContain('..');
        expect(at.url).not.toMatch(/%(2f|5c|00)/i);
      }),
      { numRuns: 300 },
    );
  });
});
