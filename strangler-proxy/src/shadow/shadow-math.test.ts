import { describe, expect, it } from 'vitest';
import { isReported } from './noise.ts';
import { parsePathPattern } from '../routing/path-pattern.ts';
import { MAX_TEMPLATE_CHARS, pathTemplate } from './path-template.ts';
import { readiness, wilsonLowerBound } from './readiness.ts';

describe('pathTemplate', () => {
  it('when a path holds ids, then they become :id and the query goes', () => {
    expect(pathTemplate('/api/listings/17?x=1')).toBe('/api/listings/:id');
    expect(pathTemplate('/api/listings/42')).toBe('/api/listings/:id');
    expect(pathTemplate('/api/orders/1000000003/cancel')).toBe('/api/orders/:id/cancel');
    expect(pathTemplate('/api/reservations/3f2a1c9e-1b2c-4d5e-8f90-123456789abc')).toBe('/api/reservations/:id');
    expect(pathTemplate('/api/suppliers/mine')).toBe('/api/suppliers/mine');
    expect(pathTemplate('/')).toBe('/');
  });

  it('when a route’s pattern names the segments, then the template is the pattern’s, and a client’s long path cannot make it long', () => {
    const listings = parsePathPattern('/api/listings/:id?');
    expect(pathTemplate('/api/listings/17?x=1', listings)).toBe('/api/listings/:id');
    expect(pathTemplate('/api/listings/mine', listings)).toBe('/api/listings/:id');
    expect(pathTemplate('/api/listings', listings)).toBe('/api/listings');
    expect(pathTemplate(`/api/listings/${'a'.repeat(3000)}`, listings)).toBe('/api/listings/:id');
    expect(pathTemplate('/', parsePathPattern('/'))).toBe('/');
    const things = parsePathPattern('/api/things/*');
    expect(pathTemplate('/api/things', things)).toBe('/api/things');
    expect(pathTemplate('/api/things/17/photos', things)).toBe('/api/things/:id/photos');
    expect(pathTemplate(`/api/things/${'a'.repeat(3000)}/x`, things)).toBe('/api/things/:id/x');
    expect(pathTemplate('/api/things/a/b/c/d/e/f/g/h', things)).toBe('/api/things/a/b/c/d/e/f/*');
    const wide = pathTemplate(`/api/things/${Array.from({ length: 6 }, () => 'w'.repeat(32)).join('/')}`, things);
    expect(wide.length).toBeLessThanOrEqual(MAX_TEMPLATE_CHARS);
    expect(wide).toMatch(/^\/api\/things\/(w{32}\/)+\*$/);
  });
});

describe('noise', () => {
  const t = { relative: 0.2, absolute: 0.01 };
  it('when a field differs as often between two monolith answers, then it is noise, not reported', () => {
    expect(isReported({ samples: 1000, diffs: 1000, noiseSamples: 100, noise: 100 }, t)).toBe(false);
    expect(isReported({ samples: 1000, diffs: 310, noiseSamples: 100, noise: 30 }, t)).toBe(false);
  });
  it('when a field differs clearly more often than its noise, then it is reported', () => {
    expect(isReported({ samples: 1000, diffs: 1000, noiseSamples: 100, noise: 0 }, t)).toBe(true);
    expect(isReported({ samples: 1000, diffs: 500, noiseSamples: 100, noise: 30 }, t)).toBe(true);
    expect(isReported({ samples: 1000, diffs: 5, noiseSamples: 100, noise: 0 }, t)).toBe(false);
  });
});

describe('readiness', () => {
  it('when samples are few, then the Wilson bound is low; many, then close to the rate', () => {
    expect(wilsonLowerBound(99, 100)).toBeCloseTo(0.9455, 3);
    expect(wilsonLowerBound(990, 1000)).toBeCloseTo(0.9817, 3);
    expect(wilsonLowerBound(0, 0)).toBe(0);
  });
  it('when the service errs more or is slower than its budget, then the score drops accordingly', () => {
    const base = { samples: 10_000, adjustedMatches: 10_000, monolithErrors: 0, serviceErrors: 0, monolithP99Ms: 10, serviceP99Ms: 11 };
    expect(readiness(base).score).toBeCloseTo(100, 0);
    expect(readiness({ ...base, serviceErrors: 250 }).score).toBeCloseTo(50, 0);
    expect(readiness({ ...base, serviceP99Ms: 24 }).score).toBeCloseTo(50, 0);
    expect(readiness({ ...base, serviceP99Ms: 24 }).latencyP99DeltaMs).toBe(14);
  });
});
