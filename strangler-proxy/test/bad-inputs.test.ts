import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeUpstream } from './support/fake-upstream.ts';
import { startTestProxy, table, type TestProxy } from './support/proxy-harness.ts';
import { rawRequest, statusOf } from './support/raw-http.ts';

/**
 * Hostile and malformed requests, sent over a raw TCP socket (an HTTP client would fix them up):
 * message framing and smuggling (Content-Length/Transfer-Encoding, line endings, obs-fold, chunks,
 * pipelining), header abuse (control characters, size and count, Host, forwarding and hop-by-hop
 * headers, `__proto__`), path tricks (dot segments, encoded separators, double and overlong
 * encodings, case), size and slowness limits (URL, body, slowloris, aborted uploads), and the
 * proxy's own headers (Idempotency-Key, preview, admin token). For each: the expected answer,
 * nothing partial at the upstream unless the case allows it, and the proxy still serving others.
 * Node's parser already refuses some of these; each is pinned anyway, so an upgrade cannot reopen it.
 */
let upstream: FakeUpstream;
let proxy: TestProxy;
let host: string;

beforeAll(async () => {
  upstream = await new FakeUpstream('monolith').start();
  proxy = await startTestProxy(table({ monolith: upstream.url }, ''), {
    MAX_BODY_BYTES: '1024',
    MAX_URL_BYTES: '2048',
    HEADERS_TIMEOUT_MS: '1000',
    REQUEST_TIMEOUT_MS: '1500',
  });
  host = new URL(proxy.url).host;
});
afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});
let before = 0;
beforeEach(() => {
  before = upstream.count();
});

const req = (head: string, body = ''): string => `${head.replace(/HOST/g, host)}\r\n\r\n${body}`;
const send = (payload: Parameters<typeof rawRequest>[1], opts?: Parameters<typeof rawRequest>[2]) => rawRequest(proxy.url, payload, opts);

async function expectStatus(
  payload: string | string[],
  status: number | number[],
  opts?: Parameters<typeof rawRequest>[2],
): Promise<string> {
  const { text } = await send(payload, opts);
  expect([status].flat(), text.slice(0, 200)).toContain(statusOf(text));
  return text;
}

async function stillServing(): Promise<void> {
  const res = await fetch(`${proxy.url}/health-check`);
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

describe('hostile and malformed requests over raw sockets', () => {
  it('when Content-Length and Transfer-Encoding are both sent, then 400, closed, the upstream sees nothing', async () => {
    const { text, closed } = await send(
      req(
        'POST /a HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5\r\nTransfer-Encoding: chunked',
        '0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
      ),
    );
    expect(statusOf(text)).toBe(400);
    expect(closed).toBe(true);
    expect(upstream.count()).toBe(before);
    await stillServing();
  });

  it('when two different Content-Length values or a list "3, 3" are sent, then 400', async () => {
    await expectStatus(req('POST /a HTTP/1.1\r\nHost: HOST\r\nContent-Length: 3\r\nContent-Length: 4', 'abcd'), 400);
    await expectStatus(req('POST /a HTTP/1.1\r\nHost: HOST\r\nContent-Length: 3, 3', 'abc'), 400);
    expect(upstream.count()).toBe(before);
  });

  it('when Transfer-Encoding is "chunked, identity", "xchunked" or sent twice, then 400', async () => {
    await expectStatus(req('POST /a HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked, identity', '0\r\n\r\n'), 400);
    await expectStatus(req('POST /a HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: xchunked', '0\r\n\r\n'), 400);
    await expectStatus(req('POST /a HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked', '0\r\n\r\n'), 400);
    expect(upstream.count()).toBe(before);
  });

  it('when a header has a space before its colon or a leading space, then 400', async () => {
    await expectStatus(req('POST /a HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding : chunked', '0\r\n\r\n'), 400);
    await expectStatus(req('GET /a HTTP/1.1\r\n Host: HOST'), 400);
    expect(upstream.count()).toBe(before);
  });

  it('when a header is folded onto the next line (obs-fold), then 400', async () => {
    await expectStatus(req('GET /a HTTP/1.1\r\nHost: HOST\r\nX-Folded: a\r\n b'), 400);
    expect(upstream.count()).toBe(before);
  });

  it('when lines end in a bare LF or hold a lone CR, then 400', async () => {
    await expectStatus(`GET /a HTTP/1.1\nHost: ${host}\n\n`, 400);
    await expectStatus(`GET /a HTTP/1.1\r\nHost: ${host}\rX-A: b\r\n\r\n`, 400);
    expect(upstream.count()).toBe(before);
  });

  it('when a header value holds NUL or another control character, then 400', async () => {
    await expectStatus(req('GET /a HTTP/1.1\r\nHost: HOST\r\nX-A: a\u0000b'), 400);
    await expectStatus(req('GET /a HTTP/1.1\r\nHost: HOST\r\nX-A: a\u0007b'), 400);
    expect(upstream.count()).toBe(before);
  });

  it('when a chunk size overflows or a chunk extension is 20 KB, then 400 or 413', async () => {
    await expectStatus(
      req('POST /a HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked', 'ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n'),
      [400, 413],
    );
    await expectStatus(
      req('POST /a HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked', `1;ext=${'x'.repeat(20_000)}\r\na\r\n0\r\n\r\n`),
      [400, 413],
    );
    expect(upstream.count()).toBe(before);
  });

  it('when an HTTP/1.0 request says Transfer-Encoding: chunked, then 400', async () => {
    await expectStatus(req('POST /a HTTP/1.0\r\nHost: HOST\r\nTransfer-Encoding: chunked', '3\r\nabc\r\n0\r\n\r\n'), 400);
    expect(upstream.count()).toBe(before);
  });

  it('when the request line says HTTP/2.0, then 400 or 505', async () => {
    await expectStatus(req('GET /a HTTP/2.0\r\nHost: HOST'), [400, 505]);
    expect(upstream.count()).toBe(before);
  });

  it('when DELETE or OPTIONS carries a body without Content-Length, then one framed request reaches the upstream, never a second', async () => {
    const { text } = await send(req('DELETE /api/items/1 HTTP/1.1\r\nHost: HOST', 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'), {
      responses: 2,
    });
    expect(statusOf(text)).toBe(200);
    const { text: opts } = await send(req('OPTIONS /api/items HTTP/1.1\r\nHost: HOST', '{"a":1}'));
    expect(statusOf(opts)).toBe(200);
    const seen = upstream.seen.slice(before);
    expect(seen.map((s) => `${s.method} ${s.url} ${s.body}`)).toEqual(['DELETE /api/items/1 ', 'OPTIONS /api/items ']);
    expect(upstream.seen.some((s) => s.url === '/smuggled')).toBe(false);
  });

  it('when two requests are pipelined and the second asks for an admin path, then each is routed on its own', async () => {
    const { text } = await send(
      req('GET /first HTTP/1.1\r\nHost: HOST') + req('POST /__strangler/reload HTTP/1.1\r\nHost: HOST\r\nContent-Length: 0'),
      { responses: 2 },
    );
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    expect(statuses).toEqual([200, 404]);
    expect(upstream.seen.slice(before).map((s) => s.url)).toEqual(['/first']);
  });

  it('when the headers exceed 16 KB or number more than 100, then 431 and nothing is forwarded', async () => {
    await expectStatus(req(`GET /a HTTP/1.1\r\nHost: HOST\r\nX-Big: ${'a'.repeat(17_000)}`), 431);
    const many = Array.from({ length: 101 }, (_, i) => `X-H${i}: v`).join('\r\n');
    await expectStatus(req(`GET /a HTTP/1.1\r\nHost: HOST\r\n${many}`), 431);
    expect(upstream.count()).toBe(before);
  });

  it('when HTTP/1.1 has no Host or two Host headers, then 400', async () => {
    await expectStatus(req('GET /a HTTP/1.1\r\nX-A: b'), 400);
    await expectStatus(req('GET /a HTTP/1.1\r\nHost: HOST\r\nHost: HOST'), 400);
    expect(upstream.count()).toBe(before);
  });

  it('when the Host is outside the allow-list, then 421 and it is never used', async () => {
    await expectStatus(req('GET /a HTTP/1.1\r\nHost: evil.example'), 421);
    expect(upstream.count()).toBe(before);
  });

  it('when the target is in absolute form, then 400', async () => {
    await expectStatus(req('GET http://evil.example/ HTTP/1.1\r\nHost: HOST'), 400);
    expect(upstream.count()).toBe(before);
  });

  it('when the client sends X-Forwarded-* and Forwarded, then they are replaced from the socket', async () => {
    await expectStatus(
      req(
        'GET /xff HTTP/1.1\r\nHost: HOST\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nForwarded: for=6.6.6.6',
      ),
      200,
    );
    const seen = upstream.seen.at(-1)!;
    expect(seen.headers).toMatchObject({ 'x-forwarded-for': '127.0.0.1', 'x-forwarded-host': host, 'x-forwarded-proto': 'http' });
    expect(seen.headers.forwarded).toBeUndefined();
  });

  it('when Connection names X-Secret, then X-Secret is not forwarded', async () => {
    await expectStatus(req('GET /conn HTTP/1.1\r\nHost: HOST\r\nConnection: X-Secret\r\nX-Secret: hunter2'), 200);
    expect(upstream.seen.at(-1)!.headers['x-secret']).toBeUndefined();
  });

  it('when Keep-Alive, TE, Trailer, Proxy-Authorization, Proxy-Connection or a non-WebSocket Upgrade is sent, then it is removed and a Trailer never crashes', async () => {
    await expectStatus(
      req(
        'GET /hop HTTP/1.1\r\nHost: HOST\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-T\r\nProxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c',
      ),
      200,
    );
    const h = upstream.seen.at(-1)!.headers;
    for (const name of ['keep-alive', 'te', 'trailer', 'proxy-authorization', 'proxy-connection', 'upgrade'])
      expect(h[name], name).toBeUndefined();
    await expectStatus(
      req('POST /trailer HTTP/1.1\r\nHost: HOST\r\nTrailer: X-T\r\nTransfer-Encoding: chunked', '3\r\nabc\r\n0\r\nX-T: v\r\n\r\n'),
      200,
    );
    await stillServing();
  });

  it('when a header is named __proto__ or constructor, then no crash and no prototype pollution', async () => {
    await expectStatus(req('GET /proto HTTP/1.1\r\nHost: HOST\r\n__proto__: polluted\r\nconstructor: x'), 200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    await stillServing();
  });

  it('when the path is /api/../admin or an encoding of it, then it is normalised before routing (routes as /admin)', async () => {
    for (const p of ['/api/../admin', '/api/%2e%2e/admin', '/api/.%2e/admin']) {
      await expectStatus(req(`GET ${p} HTTP/1.1\r\nHost: HOST`), 200);
      expect(upstream.seen.at(-1)!.url).toBe('/admin');
    }
  });

  it('when the path holds ..%2f, %2f in a segment, \\, %00, %252e, %c0%ae or ..;/, then 400', async () => {
    for (const p of [
      '/api/..%2fadmin',
      '/api/a%2fb',
      '/api/a\\b',
      '/api/a%00b',
      '/api/%252e%252e/admin',
      '/api/%c0%ae%c0%ae/admin',
      '/api/..;/admin',
    ]) {
      await expectStatus(req(`GET ${p} HTTP/1.1\r\nHost: HOST`), 400);
    }
    expect(upstream.count()).toBe(before);
  });

  it('when the path is //evil.example/p or /\\evil.example/p, then the upstream host is unchanged, or 400', async () => {
    await expectStatus(req('GET //evil.example/p HTTP/1.1\r\nHost: HOST'), 200);
    const seen = upstream.seen.at(-1)!;
    expect(seen.url).toBe('/evil.example/p');
    expect(seen.headers.host).toBe(host);
    await expectStatus(req('GET /\\evil.example/p HTTP/1.1\r\nHost: HOST'), 400);
  });

  it('when the path is /API/Listings, then it is routed as the upstream reads it (case-insensitive), no bypass', async () => {
    const listings = await new FakeUpstream('listings').start();
    const p = await startTestProxy(
      table(
        { monolith: upstream.url, listings: listings.url },
        `  - name: listings
    match: { path: /api/listings/* }
    mode: service
    target: listings`,
      ),
    );
    try {
      const { text } = await rawRequest(p.url, `GET /API/Listings HTTP/1.1\r\nHost: ${new URL(p.url).host}\r\n\r\n`);
      expect(statusOf(text)).toBe(200);
      expect(text).toContain('x-served-by: listings');
    } finally {
      await p.close();
      await listings.close();
    }
  });

  it('when the URL is over the limit, then 414', async () => {
    await expectStatus(req(`GET /${'a'.repeat(3000)} HTTP/1.1\r\nHost: HOST`), 414);
    expect(upstream.count()).toBe(before);
  });

  it('when Content-Length declares a body over the limit, then 413 before a byte of it is read', async () => {
    const { text, closed } = await send(req('POST /big HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5000'), { waitMs: 1000 });
    expect(statusOf(text)).toBe(413);
    expect(closed).toBe(true);
    expect(upstream.count()).toBe(before);
  });

  it('when a chunked body crosses the limit, then 413 at once and the upstream is never called', async () => {
    const chunk = `400\r\n${'a'.repeat(1024)}\r\n`;
    const { text } = await send([req('POST /big HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked'), chunk, chunk], {
      waitMs: 1000,
      gapMs: 50,
    });
    expect(statusOf(text)).toBe(413);
    expect(upstream.count()).toBe(before);
  });

  it('when headers arrive one byte at a time (slowloris), then the connection is closed at the headers timeout and others are unaffected', async () => {
    const head = `GET /slow HTTP/1.1\r\nHost: ${host}\r\nX-Slow: ${'a'.repeat(40)}`;
    const started = Date.now();
    const slow = send(head.split(''), { waitMs: 6000, gapMs: 100 });
    await stillServing();
    const { closed } = await slow;
    expect(closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(upstream.count()).toBe(before + 1);
  });

  it('when a body arrives one byte at a time, then 408 at the request timeout', async () => {
    const parts = [req('POST /slow-body HTTP/1.1\r\nHost: HOST\r\nContent-Length: 100'), ...'a'.repeat(100).split('')];
    const { text } = await send(parts, { waitMs: 5000, gapMs: 100 });
    expect(statusOf(text)).toBe(408);
    expect(upstream.count()).toBe(before);
  });

  it('when a client aborts halfway through an upload, then nothing reaches the upstream', async () => {
    await send([req('POST /upload HTTP/1.1\r\nHost: HOST\r\nContent-Length: 500'), 'a'.repeat(200)], { waitMs: 200 });
    await new Promise((r) => setTimeout(r, 100));
    expect(upstream.count()).toBe(before);
    await stillServing();
  });

  it('when Expect: 100-continue is sent, then it is handled and the body forwarded without Expect', async () => {
    const { text } = await send([req('POST /expect HTTP/1.1\r\nHost: HOST\r\nContent-Length: 3\r\nExpect: 100-continue'), 'abc'], {
      gapMs: 100,
      waitMs: 800,
    });
    expect(text).toMatch(/HTTP\/1\.1 200/);
    expect(upstream.seen.at(-1)!.body).toBe('abc');
    expect(upstream.seen.at(-1)!.headers.expect).toBeUndefined();
  });

  it('when a multipart body holds CRLF inside a field, then it is forwarded byte for byte', async () => {
    const body = '--b\r\nContent-Disposition: form-data; name="f"\r\n\r\nline1\r\nline2\r\n--b--\r\n';
    await expectStatus(
      req(
        `POST /multipart HTTP/1.1\r\nHost: HOST\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: ${body.length}`,
        body,
      ),
      200,
    );
    expect(upstream.seen.at(-1)!.body).toBe(body);
  });

  it('when two Idempotency-Key headers are sent, then 400; the same key with another body, 422; the same key in flight, 409', async () => {
    await expectStatus(req('POST /pay HTTP/1.1\r\nHost: HOST\r\nIdempotency-Key: a\r\nIdempotency-Key: b\r\nContent-Length: 2', '{}'), 400);
    const cookie = 'strangler_uid=11111111-1111-4111-8111-111111111111';
    await expectStatus(
      req(`POST /pay HTTP/1.1\r\nHost: HOST\r\nCookie: ${cookie}\r\nIdempotency-Key: k1\r\nContent-Length: 7`, '{"a":1}'),
      200,
    );
    await expectStatus(
      req(`POST /pay HTTP/1.1\r\nHost: HOST\r\nCookie: ${cookie}\r\nIdempotency-Key: k1\r\nContent-Length: 7`, '{"a":2}'),
      422,
    );
    upstream.behaviour = { kind: 'ok', delayMs: 300 };
    try {
      const first = send(req(`POST /pay HTTP/1.1\r\nHost: HOST\r\nCookie: ${cookie}\r\nIdempotency-Key: k2\r\nContent-Length: 2`, '{}'));
      await new Promise((r) => setTimeout(r, 100));
      await expectStatus(
        req(`POST /pay HTTP/1.1\r\nHost: HOST\r\nCookie: ${cookie}\r\nIdempotency-Key: k2\r\nContent-Length: 2`, '{}'),
        409,
      );
      expect(statusOf((await first).text)).toBe(200);
    } finally {
      upstream.behaviour = { kind: 'ok' };
    }
  });

  it('when a preview header is forged without the admin token, then it is ignored (routed as usual)', async () => {
    await expectStatus(req('GET /p HTTP/1.1\r\nHost: HOST\r\nX-Strangler-Preview: nowhere'), 200);
    expect(upstream.seen.at(-1)!.headers['x-strangler-preview']).toBeUndefined();
  });

  it('when an admin endpoint is called without a token or with a wrong one, then 401', async () => {
    for (const auth of ['', 'Authorization: Bearer wrong\r\n', 'X-Strangler-Token: wrong\r\n']) {
      const { text } = await rawRequest(
        proxy.adminUrl,
        `POST /__strangler/reload HTTP/1.1\r\nHost: localhost\r\n${auth}Content-Length: 0\r\n\r\n`,
      );
      expect(statusOf(text)).toBe(401);
    }
  });
});

describe('Host and X-Forwarded-Host parsed as RFC 9110 §7.2 reads them, over raw sockets', () => {
  it('when the Host has userinfo, a path, a space, a bad port or a bad IP literal after an allowed name, then 400 invalid_host and nothing forwarded', async () => {
    for (const bad of [
      'localhost:80@evil.example',
      'localhost@evil.example',
      'localhost:80/evil',
      'localhost:80 evil',
      'localhost:',
      'localhost:65536',
      'localhost:-1',
      'localhost:80:81',
      '[::1',
      '[::1]x',
      '[::1]:80@evil.example',
      '127.0.0.1:80?x',
      'localhost#x',
      '127.1',
    ]) {
      const text = await expectStatus(req(`GET /a HTTP/1.1\r\nHost: ${bad}`), 400);
      expect(text, bad).toContain('"code":"invalid_host"');
    }
    expect(upstream.count()).toBe(before);
    await stillServing();
  });

  it('when the Host is an allowed name in another spelling (case, port, IPv6 literal), then it is served; a well-formed name not allowed stays 421', async () => {
    // (Not all capitals: req() would read HOST as the placeholder.)
    for (const good of ['LocalHost', 'localhost:0', 'localhost:65535', '127.0.0.1:8080', '[::1]:8080', '[0:0:0:0:0:0:0:1]'])
      await expectStatus(req(`GET /a HTTP/1.1\r\nHost: ${good}`), 200);
    for (const notOurs of ['evil.example', 'evil.example:8080', '[::2]', '10.0.0.1'])
      await expectStatus(req(`GET /a HTTP/1.1\r\nHost: ${notOurs}`), 421);
  });

  it('when a trusted hop forwards an X-Forwarded-Host that is malformed or not allowed, then 400 or 421 and nothing forwarded; an allowed one is passed on alone', async () => {
    const p = await startTestProxy(table({ monolith: upstream.url }, ''), {
      TRUSTED_PROXY_HOPS: '1',
      ALLOWED_HOSTS: 'localhost,127.0.0.1,shop.example',
    });
    try {
      const ph = new URL(p.url).host;
      const ask = (xfh: string) => rawRequest(p.url, `GET /xfh HTTP/1.1\r\nHost: ${ph}\r\nX-Forwarded-Host: ${xfh}\r\n\r\n`);
      const n = upstream.count();
      expect(statusOf((await ask('shop.example:443@evil.example')).text)).toBe(400);
      expect(statusOf((await ask('evil.example')).text)).toBe(421);
      // The entry the trusted hop added is the last; the client's own entries before it are not believed.
      expect(statusOf((await ask('shop.example, evil.example')).text)).toBe(421);
      expect(upstream.count()).toBe(n);
      expect(statusOf((await ask('evil.example, shop.example')).text)).toBe(200);
      expect(upstream.seen.at(-1)!.headers['x-forwarded-host']).toBe('shop.example');
    } finally {
      await p.close();
    }
  });

  it('when a header that may occur once (Authorization, Content-Type, Origin, …) is sent twice, then 400 naming it and nothing forwarded, rather than the two joined into one', async () => {
    for (const name of [
      'Authorization',
      'Content-Type',
      'Proxy-Authorization',
      'Origin',
      'Referer',
      'Range',
      'If-Modified-Since',
      'X-Strangler-Token',
    ]) {
      const text = await expectStatus(req(`GET /dup HTTP/1.1\r\nHost: HOST\r\n${name}: a\r\n${name}: b`), 400);
      expect(text, name).toContain(name.toLowerCase());
      // The same name in another case is the same header.
      expect(await expectStatus(req(`GET /dup HTTP/1.1\r\nHost: HOST\r\n${name}: a\r\n${name.toUpperCase()}: b`), 400), name).toContain(
        name.toLowerCase(),
      );
    }
    await expectStatus(req('GET /dup HTTP/1.1\r\nHost: HOST\r\nhost: HOST'), 400);
    // A list-valued header may repeat: its values join as RFC 9110 says.
    await expectStatus(req('GET /dup-ok HTTP/1.1\r\nHost: HOST\r\nAccept: text/html\r\nAccept: application/json'), 200);
    expect(upstream.seen.at(-1)!.headers.accept).toBe('text/html, application/json');
    expect(upstream.seen.filter((s) => s.url === '/dup')).toHaveLength(0);
  });

  it('when a field Node keeps only the first of (User-Agent) is sent twice, then the upstream gets both values, joined, not the first alone', async () => {
    await expectStatus(
      req('GET /dup-ua HTTP/1.1\r\nHost: HOST\r\nUser-Agent: first\r\nuser-agent: second\r\nCookie: a=1\r\nCookie: b=2'),
      200,
    );
    const seen = upstream.seen.at(-1)!;
    expect(seen.headers['user-agent']).toBe('first, second');
    expect(seen.headers.cookie).toBe('a=1; b=2');
  });
});
