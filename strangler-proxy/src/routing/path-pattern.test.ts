import { describe, expect, it } from 'vitest';
import { matchPath, parsePathPattern } from './path-pattern.ts';

const m = (pattern: string, path: string): boolean => matchPath(parsePathPattern(pattern), path.split('/').filter(Boolean));

describe('path patterns', () => {
  it('when literal, param, optional param or wildcard, then they match as documented, case-insensitively', () => {
    expect(m('/api/listings', '/API/Listings')).toBe(true);
    expect(m('/api/listings', '/api/listings/1')).toBe(false);
    expect(m('/api/listings/:id', '/api/listings/1')).toBe(true);
    expect(m('/api/listings/:id', '/api/listings')).toBe(false);
    expect(m('/api/listings/:id?', '/api/listings')).toBe(true);
    expect(m('/api/listings/:id?', '/api/listings/9')).toBe(true);
    expect(m('/api/listings/:id?', '/api/listings/9/archive')).toBe(false);
    expect(m('/api/listings/*', '/api/listings')).toBe(true);
    expect(m('/api/listings/*', '/api/listings/9/archive')).toBe(true);
    expect(m('/api/listings/*', '/api/listingsx')).toBe(false);
    expect(m('/', '/')).toBe(true);
    expect(m('/*', '/anything/at/all')).toBe(true);
  });

  it('when a pattern is malformed, then the message says what to fix', () => {
    expect(() => parsePathPattern('api')).toThrow(/must start with \//);
    expect(() => parsePathPattern('/a//b')).toThrow(/empty segment/);
    expect(() => parsePathPattern('/:id?/x')).toThrow(/only the last segment can be optional/);
    expect(() => parsePathPattern('/a/../b')).toThrow(/must be a literal/);
    expect(() => parsePathPattern('/a b')).toThrow(/must be a literal/);
  });
});
