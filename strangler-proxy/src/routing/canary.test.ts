import { describe, expect, it } from 'vitest';
import { canaryBucket, inCanary } from './canary.ts';

const users = Array.from({ length: 5000 }, (_, i) => `user-${i}`);

describe('canary split', () => {
  it('when the weight is 10 %, then 10 % ± 2 of 5 000 users are inside', () => {
    const inside = users.filter((u) => inCanary(canaryBucket('listings', u), 10)).length / users.length;
    expect(inside).toBeGreaterThan(0.08);
    expect(inside).toBeLessThan(0.12);
  });

  it('when asked again, then every user gets the same answer (sticky)', () => {
    for (const u of users.slice(0, 500)) expect(canaryBucket('listings', u)).toBe(canaryBucket('listings', u));
  });

  it('when the weight rises, then users only move into the canary, never out', () => {
    const weights = [0, 1, 10, 50, 99.99, 100];
    for (const u of users) {
      const sides = weights.map((w) => inCanary(canaryBucket('g', u), w));
      expect(sides[0]).toBe(false);
      expect(sides.at(-1)).toBe(true);
      for (let i = 1; i < sides.length; i++) if (sides[i - 1]) expect(sides[i]).toBe(true);
    }
  });

  it('when two groups split, then their canaries are different users', () => {
    const a = new Set(users.filter((u) => inCanary(canaryBucket('listings', u), 10)));
    const both = users.filter((u) => a.has(u) && inCanary(canaryBucket('orders', u), 10)).length;
    expect(both / users.length).toBeLessThan(0.03);
  });
});
