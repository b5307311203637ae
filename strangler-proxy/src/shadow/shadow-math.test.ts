import { describe, expect, it } from 'vitest';
import { isReported } from './noise.ts';
import { pathTemplate } from './path-template.ts';
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
