import { describe, expect, it } from 'vitest';
import { containsPattern } from '../db/like-pattern.ts';
import { parseCookies, sessionCookie } from './cookies.ts';
import { stableJson } from './idempotency.ts';
import { idParam } from './params.ts';

describe('parseCookies', () => {
  it('when names repeat, then the first wins; quoted and encoded values are decoded', () => {
    const c = parseCookies('a=1; b="two"; a=3; c=%E2%82%AC; broken; =x; d=%E0%A4%A');
    expect(Object.fromEntries(c)).toEqual({ a: '1', b: 'two', c: '€', d: '%E0%A4%A' });
    expect(parseCookies(undefined).size).toBe(0);
  });

  it('when a pair has no "=", an empty name, or spaces around its name and value, then it is skipped or trimmed, and a repeated name still keeps its first value', () => {
    const c = parseCookies(' novalue ;  a = x y ; =orphan; a=second;b=;b=2;;');
    expect(Object.fromEntries(c)).toEqual({ a: 'x y', b: '' });
    expect(parseCookies('').size).toBe(0);
  });

  it('when a session cookie is made, then it is HttpOnly, Lax, and Secure only when asked', () => {
    expect(sessionCookie('s', 'v', { maxAgeSeconds: 10, secure: false })).toBe('s=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=10');
    expect(sessionCookie('s', 'v', { maxAgeSeconds: 0, secure: true })).toMatch(/; Secure$/);
  });
});

describe('stableJson', () => {
  it('when keys come in another order, then the text is the same', () => {
    expect(stableJson({ b: 1, a: [{ y: 2, x: 1 }] })).toBe(stableJson({ a: [{ x: 1, y: 2 }], b: 1 }));
    expect(stableJson({ a: 1 })).not.toBe(stableJson({ a: '1' }));
    expect(stableJson(undefined)).toBe('null');
  });
});

describe('idParam', () => {
  it('when the text is a positive safe integer, then the number; otherwise undefined', () => {
    expect(idParam('42')).toBe(42);
    for (const bad of [undefined, '', '0', '007', '-1', '1.5', '1e3', ' 1', '9007199254740993', '99999999999999999'])
      expect(idParam(bad), String(bad)).toBeUndefined();
  });
});

describe('containsPattern', () => {
  it('when the text holds LIKE wildcards or the escape, then they are escaped', () => {
    expect(containsPattern('50%_off\\')).toBe('%50\\%\\_off\\\\%');
  });
});
