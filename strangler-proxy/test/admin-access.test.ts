import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from './support/fake-upstream.ts';
import { ADMIN_TOKEN, startTestProxy, table, type TestProxy } from './support/proxy-harness.ts';
import { rawRequest, statusOf } from './support/raw-http.ts';

/**
 * The admin listener holds the shadow examples (personal data from real traffic): only the probes
 * are open; everything else needs the token, and only names the admin is reached by are answered,
 * so a page the operator visits cannot read it through DNS rebinding.
 */
let upstream: FakeUpstream;
let proxy: TestProxy;
let adminHost: string;

beforeAll(async () => {
  upstream = await new FakeUpstream('monolith').start();
  proxy = await startTestProxy(table({ monolith: upstream.url }, ''));
  adminHost = new URL(proxy.adminUrl).host;
});
afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };
const get = (path: string, headers: Record<string, string> = {}) => fetch(`${proxy.adminUrl}${path}`, { headers, redirect: 'manual' });
const raw = (head: string) => rawRequest(proxy.adminUrl, `${head.replace(/ADMIN/g, adminHost)}\r\n\r\n`);
const bodyOf = (text: string): string => text.slice(text.indexOf('\r\n\r\n') + 4);
const codeOf = (text: string): string | undefined => (JSON.parse(bodyOf(text)) as { error?: { code: string } }).error?.code;

/** Logs in through the form as a browser would; returns the session cookie (name=value). */
async function login(token: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${proxy.adminUrl}/__strangler/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: proxy.adminUrl, ...headers },
    body: new URLSearchParams({ token, next: '/__strangler/shadow.json' }).toString(),
  });
}

describe('admin listener: who may read it', () => {
  it('when the routes, the report, its JSON or the writes are read without the admin token, then 401 unauthorized says how to authenticate', async () => {
    for (const path of [
      '/__strangler/routes',
      '/__strangler/shadow.json',
      '/__strangler/writes',
      '/__strangler/explain?method=GET&path=/a',
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(401);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code, path).toBe('unauthorized');
      expect(body.error.message, path).toMatch(/Authorization: Bearer/);
    }
    expect((await get('/__strangler/routes', { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401);
    expect((await get('/__strangler/routes', { 'x-strangler-token': 'wrong' })).status).toBe(401);
  });

  it('when the report pages (overview, route, example) are opened without credentials, then 401 with the login form leading back there, and no report', async () => {
    for (const path of ['/__strangler/', '/__strangler/shadow/things', '/__strangler/shadow/things/examples/1']) {
      const res = await get(path);
      expect(res.status, path).toBe(401);
      const page = await res.text();
      expect(page).toMatch(/<form method="post" action="\/__strangler\/login"/);
      expect(page).toContain(`name="next" value="${path}"`);
      expect(page).not.toContain('Shadow traffic</h1>');
    }
  });

  it('when the admin token is sent in a header, then the reads answer 200', async () => {
    expect((await get('/__strangler/routes', bearer)).status).toBe(200);
    expect((await get('/__strangler/shadow.json', { 'x-strangler-token': ADMIN_TOKEN })).status).toBe(200);
    expect((await get('/__strangler/', bearer)).status).toBe(200);
  });

  it('when the probes and metrics are read without a token, or with another Host, then they still answer (load balancers and scrapers send none)', async () => {
    for (const path of ['/__strangler/healthz', '/__strangler/readyz', '/__strangler/metrics']) {
      expect((await get(path)).status, path).toBe(200);
      expect(statusOf((await raw(`GET ${path} HTTP/1.1\r\nHost: 10.0.3.7:8081\r\nConnection: close`)).text), path).toBe(200);
    }
  });

  it('when the right token is posted to the login form, then an HttpOnly SameSite=Strict cookie not holding the token is set, and it opens the pages', async () => {
    const res = await login(ADMIN_TOKEN);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/__strangler/shadow.json');
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('strangler_admin='))!;
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\/__strangler/);
    expect(setCookie).not.toContain(ADMIN_TOKEN);
    const cookie = setCookie.split(';')[0]!;
    expect((await get('/__strangler/shadow.json', { cookie })).status).toBe(200);
    expect((await get('/__strangler/', { cookie })).status).toBe(200);
    // A browser session reads; it does not change what the proxy serves.
    expect((await fetch(`${proxy.adminUrl}/__strangler/reload`, { method: 'POST', headers: { cookie } })).status).toBe(401);
  });

  it('when a wrong token is posted, or the cookie is forged or tampered with, then no session', async () => {
    const wrong = await login('not-the-token-0123456789');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.getSetCookie()).toEqual([]);
    expect(await wrong.text()).toMatch(/<form method="post"/);
    const good = (await login(ADMIN_TOKEN)).headers.getSetCookie()[0]!.split(';')[0]!;
    const [name, value] = good.split('=') as [string, string];
    const [v, expires, mac] = value.split('.') as [string, string, string];
    for (const forged of [
      `${name}=${ADMIN_TOKEN}`,
      `${name}=${v}.${Number(expires) + 1_000_000}.${mac}`,
      `${name}=${v}.${expires}.${mac.slice(0, -2)}AA`,
      `${name}=${v}.${Math.floor(Date.now() / 1000) - 10}.${mac}`,
    ]) {
      expect((await get('/__strangler/shadow.json', { cookie: forged })).status, forged).toBe(401);
    }
  });

  it('when the login form is posted from another origin, then 403 and no session (login CSRF)', async () => {
    for (const origin of ['http://evil.example', 'null']) {
      const res = await login(ADMIN_TOKEN, { origin });
      expect(res.status, origin).toBe(403);
      expect(res.headers.getSetCookie()).toEqual([]);
    }
    // No Origin, but the fetch metadata says another site sent it.
    const { text } = await raw(
      `POST /__strangler/login HTTP/1.1\r\nHost: ADMIN\r\nSec-Fetch-Site: cross-site\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${6 + ADMIN_TOKEN.length}\r\n\r\ntoken=${ADMIN_TOKEN}`,
    );
    expect(statusOf(text)).toBe(403);
    expect(text).not.toMatch(/set-cookie/i);
  });

  it('when the log-out form is posted, then the session cookie is cleared; from another origin, 403', async () => {
    const out = await fetch(`${proxy.adminUrl}/__strangler/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: proxy.adminUrl },
    });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/__strangler/login');
    expect(out.headers.getSetCookie()[0]).toMatch(/^strangler_admin=; Max-Age=0; Path=\/__strangler/);
    expect(
      (
        await fetch(`${proxy.adminUrl}/__strangler/logout`, {
          method: 'POST',
          redirect: 'manual',
          headers: { origin: 'http://evil.example' },
        })
      ).status,
    ).toBe(403);
  });

  it('when the login form names a next page off the admin pages, then it goes to the report instead (no open redirect)', async () => {
    for (const next of ['https://evil.example/', '//evil.example/__strangler/', '/\\evil.example', '/api/x']) {
      const res = await fetch(`${proxy.adminUrl}/__strangler/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: proxy.adminUrl },
        body: new URLSearchParams({ token: ADMIN_TOKEN, next }).toString(),
      });
      expect(res.headers.get('location'), next).toBe('/__strangler/');
    }
  });
});

describe('admin listener: Host', () => {
  it('when an admin read comes with a Host that is not a loopback name (DNS rebinding), then 421, even with the token', async () => {
    for (const host of ['evil.example', 'evil.example:8081', '127.0.0.1.nip.io']) {
      const { text } = await raw(`GET /__strangler/shadow.json HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${ADMIN_TOKEN}`);
      expect(statusOf(text), host).toBe(421);
      expect(codeOf(text)).toBe('misdirected_request');
    }
    const { text } = await raw(`GET /__strangler/shadow.json HTTP/1.1\r\nHost: ADMIN\r\nAuthorization: Bearer ${ADMIN_TOKEN}`);
    expect(statusOf(text)).toBe(200);
  });

  it('when the admin gets a malformed Host (userinfo, a path, a space, a bad port), then 400 invalid_host', async () => {
    for (const host of ['localhost:80@evil.example', 'localhost/x', 'local host', 'localhost:99999', 'localhost:8x']) {
      const { text } = await raw(`GET /__strangler/routes HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${ADMIN_TOKEN}`);
      expect(statusOf(text), host).toBe(400);
      expect(codeOf(text), host).toBe('invalid_host');
    }
  });

  it('when ADMIN_ALLOWED_HOSTS names the admin host, then that name is served and loopback names no longer are', async () => {
    const other = await startTestProxy(table({ monolith: upstream.url }, ''), { ADMIN_ALLOWED_HOSTS: 'strangler-admin.internal' });
    try {
      const ask = async (host: string) =>
        statusOf(
          (
            await rawRequest(
              other.adminUrl,
              `GET /__strangler/routes HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n\r\n`,
            )
          ).text,
        );
      expect(await ask('strangler-admin.internal:8081')).toBe(200);
      expect(await ask('localhost')).toBe(421);
    } finally {
      await other.close();
    }
  });
});

describe('admin listener: bad paths', () => {
  it('when an admin path holds a malformed percent-encoding, then 400 invalid_path, not 500', async () => {
    for (const path of ['/__strangler/shadow/%E0%A4%A', '/__strangler/shadow/%ZZ', '/__strangler/shadow/a%']) {
      const { text } = await raw(`GET ${path} HTTP/1.1\r\nHost: ADMIN\r\nAuthorization: Bearer ${ADMIN_TOKEN}`);
      expect(statusOf(text), path).toBe(400);
      expect(codeOf(text), path).toBe('invalid_path');
    }
  });
});

describe('admin listener without ADMIN_TOKEN', () => {
  it('when no ADMIN_TOKEN is set, then the protected reads are refused with 403 admin_token_unset naming the setting, and the probes still answer', async () => {
    const open = await startTestProxy(table({ monolith: upstream.url }, ''), { ADMIN_TOKEN: '' });
    try {
      const res = await fetch(`${open.adminUrl}/__strangler/shadow.json`);
      expect(res.status).toBe(403);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error).toMatchObject({ code: 'admin_token_unset' });
      expect(body.error.message).toMatch(/ADMIN_TOKEN/);
      expect((await fetch(`${open.adminUrl}/__strangler/`)).status).toBe(403);
      expect((await fetch(`${open.adminUrl}/__strangler/healthz`)).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});
