import { describe, expect, it } from 'vitest';
import type { CutoverSpec, InstanceReport, SideFigures } from '@strangler/proxy';
import { fleetFigures, judge, planOf, stepName } from './cutover.ts';

const SPEC: CutoverSpec = {
  steps: [1, 10, 50],
  bakeSeconds: 600,
  maxErrorRateIncrease: 0.01,
  maxP99Ratio: 1.2,
  p99SlackMs: 25,
  minRequests: 200,
};

/** `n` requests, `errors` of them 5xx, every one answered within `le` seconds. */
const side = (n: number, errors: number, le: number): SideFigures => ({ requests: n, errors, buckets: [[le, n]] });

describe('a canary step’s verdict', () => {
  it('passes when the target is as good as the monolith with enough requests on both sides', () => {
    expect(judge({ target: side(500, 1, 0.05), monolith: side(5000, 5, 0.05) }, SPEC)).toEqual({ kind: 'pass' });
  });

  it('fails on an error rate more than the allowance above the monolith’s, saying both rates', () => {
    const v = judge({ target: side(400, 20, 0.05), monolith: side(4000, 4, 0.05) }, SPEC);
    expect(v).toEqual({ kind: 'fail', why: expect.stringMatching(/^error rate 5\.00 % on the target against 0\.10 % on the monolith/) });
  });

  it('fails on a p99 over both the ratio and the slack, not on one alone', () => {
    expect(judge({ target: side(400, 0, 0.25), monolith: side(4000, 0, 0.05) }, SPEC).kind).toBe('fail');
    // ×2 but only 10 ms more: within the slack of coarse buckets.
    expect(judge({ target: side(400, 0, 0.02), monolith: side(4000, 0, 0.01) }, SPEC).kind).toBe('pass');
    // +20 % exactly: within the ratio.
    expect(judge({ target: side(400, 0, 0.3), monolith: side(4000, 0, 0.25) }, SPEC).kind).toBe('pass');
  });

  it('is inconclusive with too few requests on either side, but a clear error rate fails on the target’s own count', () => {
    expect(judge({ target: side(150, 0, 0.05), monolith: side(4000, 0, 0.05) }, SPEC)).toEqual({
      kind: 'inconclusive',
      why: 'too few requests for a verdict: 150 on the target and 4000 on the monolith, 200 needed each',
    });
    expect(judge({ target: side(300, 30, 0.05), monolith: side(100, 0, 0.05) }, SPEC).kind).toBe('fail');
  });
});

describe('the plan and the fleet’s figures', () => {
  it('goes shadow, each canary weight, then service', () => {
    expect(planOf(SPEC).map(stepName)).toEqual(['shadow', 'canary 1 %', 'canary 10 %', 'canary 50 %', 'service']);
  });

  it('adds up each proxy’s figures since the step began, counting a restarted proxy from zero', () => {
    const report = (id: string, n: number, errors: number): InstanceReport => ({
      id,
      revision: 1,
      hash: 'h',
      stale: false,
      at: '',
      live: { g: { svc: side(n, errors, 0.05), mono: side(n * 10, 0, 0.05) } },
    });
    const start = new Map([
      ['a', report('a', 100, 1)],
      ['b', report('b', 500, 5)],
    ]);
    // a: 100 → 300 (+200, +2 errors); b restarted: 500 → 50 (counted as 50); c is new: 40.
    const f = fleetFigures(start, [report('a', 300, 3), report('b', 50, 0), report('c', 40, 1)], 'g', 'svc', 'mono');
    expect(f.target).toMatchObject({ requests: 290, errors: 3 });
    expect(f.monolith.requests).toBe(2000 + 500 + 400);
  });
});
