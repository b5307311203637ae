import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatHost, isAllowedHost, parseHost, parseHostList, trustedForwardedHost } from './host-header.ts';

const host = fc.oneof(
  fc.domain(),
  fc.ipV4(),
  fc.ipV6().map((a) => `[${a}]`),
);
const port = fc.option(fc.integer({ min: 0, max: 65_535 }), { nil: undefined });
const withPort = (h: string, p: number | undefined): string => (p === undefined ? h : `${h}:${p}`);

describe('parseHost', () => {
  it('when a Host is a name, IPv4 or [IPv6] address with an optional port 0–65535, then it parses, lower-cased, and its formatted form parses to itself', () => {
    fc.assert(
      fc.property(host, port, (h, p) => {
        const parsed = parseHost(withPort(h, p));
        expect(parsed).toBeDefined();
        expect(parsed!.port).toBe(p);
        expect(parsed!.hostname).toBe(parsed!.hostname.toLowerCase());
        expect(parseHost(formatHost(parsed!))).toEqual(parsed);
      }),
    );
  });

  it('when anything but a port follows a valid host (userinfo, a path, a query, a space, a second colon), then it is refused', () => {
    const tail = fc
      .tuple(fc.constantFrom('@', '/', '?', '#', ' ', '\t', '\\', ':', '%', ',', ';'), fc.string({ maxLength: 10 }))
      .map(([c, rest]) => c + rest);
    fc.assert(
      fc.property(host, port, tail, (h, p, t) => {
        // Without a port of its own, ':' and digits is the port: a valid host, not a tail.
        fc.pre(!(p === undefined && /^:\d+$/.test(t)));
        expect(parseHost(withPort(h, p) + t)).toBeUndefined();
      }),
    );
  });

  it('when the port is out of range, empty or not decimal, then it is refused', () => {
    fc.assert(
      fc.property(host, fc.integer({ min: 65_536, max: 10_000_000 }), (h, p) => {
        expect(parseHost(`${h}:${p}`)).toBeUndefined();
      }),
    );
    for (const bad of ['localhost:', 'localhost:-1', 'localhost:+80', 'localhost:0x50', 'localhost:8 0', 'localhost:１'])
      expect(parseHost(bad), bad).toBeUndefined();
  });

  it('when the allowed name hides an attacker host behind userinfo (localhost:80@evil), then it is refused', () => {
    for (const bad of ['localhost:80@evil.example', 'localhost@evil.example', 'user:pass@localhost', '[::1]@evil.example'])
      expect(parseHost(bad), bad).toBeUndefined();
  });

  it('when a name is numeric at the end but not a dotted quad, or an IP literal is not plain IPv6, then it is refused', () => {
    for (const bad of [
      '127.1',
      '0x7f.0.0.1',
      '127.0.0.01',
      '256.0.0.1',
      '1.2.3.4.5',
      '[fe80::1%25eth0]',
      '[v1.x]',
      '[::1',
      '::1',
      '[]',
      '',
      '.',
      'a..b',
      `${'a'.repeat(64)}.example`,
      `${'a.'.repeat(127)}a`,
    ]) {
      expect(parseHost(bad), bad).toBeUndefined();
    }
  });

  it('when an address or name is spelled differently, then it parses to one canonical form', () => {
    expect(parseHost('[0:0:0:0:0:0:0:1]:080')).toEqual({ hostname: '[::1]', port: 80 });
    expect(parseHost('[::FFFF:127.0.0.1]')).toEqual({ hostname: '[::ffff:7f00:1]', port: undefined });
    expect(parseHost('Shop.Example.:443')).toEqual({ hostname: 'shop.example', port: 443 });
  });
});

describe('host allow-lists', () => {
  it('when an entry has no port it allows any port; with a port, only that one', () => {
    const allowed = parseHostList('Shop.Example, localhost:8080, [0::1]', 'ALLOWED_HOSTS');
    expect(allowed).toEqual(['shop.example', 'localhost:8080', '[::1]']);
    expect(isAllowedHost(parseHost('shop.example:1234')!, allowed)).toBe(true);
    expect(isAllowedHost(parseHost('localhost:8080')!, allowed)).toBe(true);
    expect(isAllowedHost(parseHost('localhost:8081')!, allowed)).toBe(false);
    expect(isAllowedHost(parseHost('localhost')!, allowed)).toBe(false);
    expect(isAllowedHost(parseHost('[::1]:9')!, allowed)).toBe(true);
  });

  it('when a setting holds an entry that is not a host, then it is refused naming the entry', () => {
    expect(() => parseHostList('localhost, evil@x', 'ADMIN_ALLOWED_HOSTS')).toThrow('ADMIN_ALLOWED_HOSTS: "evil@x" is not a host name');
  });
});

describe('trustedForwardedHost', () => {
  it('when trusted hops appended to X-Forwarded-Host, then the entry the outermost trusted hop added is taken, not the client’s', () => {
    expect(trustedForwardedHost('evil.example, shop.example', 1)).toBe('shop.example');
    expect(trustedForwardedHost('evil.example, shop.example, lb.internal', 2)).toBe('shop.example');
    expect(trustedForwardedHost('shop.example', 3)).toBe('shop.example');
    expect(trustedForwardedHost('shop.example', 0)).toBeUndefined();
    expect(trustedForwardedHost(undefined, 1)).toBeUndefined();
    expect(trustedForwardedHost(' ', 1)).toBeUndefined();
    expect(trustedForwardedHost('shop.example, ', 1)).toBe('');
  });
});
