import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizePath, normalizePathFully } from './normalize-path.ts';

describe('normalizePath', () => {
  it.each([
    ['/api/listings/7?q=a%20b', '/api/listings/7', '?q=a%20b', ['api', 'listings', '7']],
    ['/api/../admin', '/admin', '', ['admin']],
    ['/api/%2e%2e/admin', '/admin', '', ['admin']],
    ['/api/.%2e/admin', '/admin', '', ['admin']],
    ['/api/./listings', '/api/listings', '', ['api', 'listings']],
    ['//evil.example/p', '/evil.example/p', '', ['evil.example', 'p']],
    ['/a//b///c/', '/a/b/c/', '', ['a', 'b', 'c']],
    ['/../../etc', '/etc', '', ['etc']],
    ['/', '/', '', []],
    ['/caf%C3%A9', '/caf%C3%A9', '', ['café']],
  ])('when the target is %s, then it routes as %s', (target, path, query, segments) => {
    expect(normalizePath(target)).toEqual({ ok: true, path, query, segments });
  });

  it.each([
    ['/api/..%2fadmin', 'encodes a path separator'],
    ['/api/a%2fb', 'encodes a path separator'],
    ['/api/a%5cb', 'encodes a path separator'],
    ['/\\evil.example/p', 'backslash'],
    ['/api/a\\b', 'backslash'],
    ['/api/a%00b', 'NUL or control'],
    ['/api/%252e%252e/admin', 'percent-encoded twice'],
    ['/api/%c0%ae%c0%ae/admin', 'not valid percent-encoded UTF-8'],
    ['/api/%zz', 'not valid percent-encoded UTF-8'],
    ['/api/..;/admin', 'hides a dot segment'],
    ['/api/.;x/admin', 'hides a dot segment'],
    ['http://evil.example/', 'must be a path'],
    ['*', 'must be a path'],
    ['/a b', 'space, control or non-ASCII'],
  ])('when the target is %s, then it is refused (%s)', (target, reason) => {
    const r = normalizePath(target);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.reason).toContain(reason);
  });

  it.each([
    ['/api/orders#', '#'],
    ['/api/orders#frag', '#'],
    ['/api/orders?x=1#', '#'],
    ['/api/a"b', '"'],
    ['/api/a<b', '<'],
    ['/api/a>b', '>'],
    ['/api/a^b', '^'],
    ['/api/a`b', '`'],
    ['/api/a{b', '{'],
    ['/api/a|b', '|'],
    ['/api/a}b', '}'],
    ['/api/a[b', '['],
    ['/api/a]b', ']'],
    ['/api/x?q={}', '{'],
    ['/api/x?q=a\\b', '\\'],
  ])(
    'when a fragment or a character RFC 3986 forbids in a path or query is sent raw (%s), then it is refused, naming it',
    (target, char) => {
      const r = normalizePath(target);
      expect(r.ok).toBe(false);
      expect(r.ok ? '' : r.reason).toContain(`"${char}"`);
    },
  );

  it('when a segment percent-encodes letters, then it is forwarded decoded, as the upstream router matches it', () => {
    expect(normalizePath('/api/%6Frders/%37')).toEqual({ ok: true, path: '/api/orders/7', query: '', segments: ['api', 'orders', '7'] });
    expect(normalizePath('/api/a%20b/caf%c3%a9')).toEqual({
      ok: true,
      path: '/api/a%20b/caf%C3%A9',
      query: '',
      segments: ['api', 'a b', 'café'],
    });
  });

  // Paths from an alphabet rich in the characters that cause trouble.
  const segment = fc.oneof(
    fc.constantFrom(
      '.',
      '..',
      '%2e',
      '%2E%2e',
      '.%2e',
      'api',
      'listings',
      '%2f',
      '%5c',
      '%00',
      '%25',
      '%252e',
      ';',
      '..;',
      'a;b',
      '%c0%ae',
      '%e2%82%ac',
      '',
    ),
    fc.stringMatching(/^[a-zA-Z0-9._~%-]{0,6}$/),
  );
  const target = fc.array(segment, { maxLength: 8 }).map((s) => `/${s.join('/')}`);

  it('property: normalising a normalised path changes nothing', () => {
    fc.assert(
      fc.property(target, (t) => {
        const once = normalizePath(t);
        if (!once.ok) return;
        expect(normalizePath(once.path)).toEqual(once);
      }),
      { numRuns: 3000 },
    );
  });

  it('property: no dot segment, encoded separator, backslash or empty segment reaches an upstream', () => {
    fc.assert(
      fc.property(target, (t) => {
        const r = normalizePath(t);
        if (!r.ok) return;
        expect(r.path.startsWith('/')).toBe(true);
        expect(r.path.startsWith('//')).toBe(false);
        expect(r.path).not.toMatch(/\/\//);
        expect(r.path).not.toMatch(/%(2f|5c|00)/i);
        expect(r.path).not.toContain('\\');
        for (const s of r.segments) expect(['.', '..']).not.toContain(s.split(';')[0]);
      }),
      { numRuns: 3000 },
    );
  });

  it('property: the shortcut for plain paths gives what the full segment pass gives, for every target', () => {
    // Plain segments, troublesome ones, trailing slashes and queries (some refused), so both sides of the shortcut are met.
    const plain = fc.stringMatching(/^[A-Za-z0-9\-._~!$&'()*+,=:@]{1,5}$/);
    const any = fc
      .tuple(
        fc.array(fc.oneof(plain, plain, segment), { maxLength: 6 }),
        fc.boolean(),
        fc.constantFrom('', '?q=1', '?a=%2e&b', '?q=a b', '?q=#top', '?q=\\', '?q=é', '?q={x}'),
      )
      .map(([parts, slash, query]) => `/${parts.join('/')}${slash ? '/' : ''}${query}`);
    let shortcut = 0;
    fc.assert(
      fc.property(any, (t) => {
        const full = normalizePathFully(t);
        expect(normalizePath(t)).toEqual(full);
        if (full.ok && full.path === t.split('?')[0]) shortcut++;
      }),
      { numRuns: 5000 },
    );
    // The comparison meant something: many targets were plain ones the shortcut answered.
    expect(shortcut).toBeGreaterThan(500);
  });
});
