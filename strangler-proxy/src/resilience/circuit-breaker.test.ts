import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CallOutcome } from './circuit-breaker.ts';
import { ConcurrencyLimit } from './concurrency-limit.ts';

const spec = { errorThresholdPercentage: 50, volumeThreshold: 4, resetTimeoutMs: 200, rollingWindowMs: 10_000 };

describe('CircuitBreaker', () => {
  const call = (b: CircuitBreaker, outcome: CallOutcome): boolean => {
    const a = b.admit();
    if (a.admitted) a.done(outcome);
    return a.admitted;
  };

  it('when failures pass the threshold, then it opens, fails fast with the time to retry, and one probe closes it', async () => {
    const b = new CircuitBreaker('listings', spec);
    const states: string[] = [];
    b.onStateChange((s) => states.push(s));
    for (let i = 0; i < 4; i++) expect(call(b, 'failure')).toBe(true);
    expect(b.state).toBe('open');
    const refused = b.admit();
    expect(refused.admitted).toBe(false);
    expect(refused.admitted ? 0 : refused.retryAfterMs).toBeGreaterThan(0);

    await new Promise((r) => setTimeout(r, 250));
    expect(b.state).toBe('half-open');
    // Exactly one probe: while it is out, the others are refused.
    const probe = b.admit();
    expect(probe.admitted).toBe(true);
    expect([b.admit().admitted, b.admit().admitted]).toEqual([false, false]);
    if (probe.admitted) probe.done('success');
    expect(b.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
    // A fresh window: one failure after closing does not reopen it.
    expect(call(b, 'failure')).toBe(true);
    expect(b.state).toBe('closed');
    b.shutdown();
  });

  it('when the probe fails, then it opens again for another reset timeout', async () => {
    const b = new CircuitBreaker('listings', spec);
    for (let i = 0; i < 4; i++) call(b, 'failure');
    await new Promise((r) => setTimeout(r, 250));
    expect(call(b, 'failure')).toBe(true);
    expect(b.state).toBe('open');
    expect(b.admit().admitted).toBe(false);
    b.shutdown();
  });

  it('when outcomes are not counted (the client left), then they never open it, and a probe not counted leaves it half-open', async () => {
    const b = new CircuitBreaker('listings', spec);
    for (let i = 0; i < 10; i++) call(b, 'not_counted');
    expect(b.state).toBe('closed');
    for (let i = 0; i < 4; i++) call(b, 'failure');
    await new Promise((r) => setTimeout(r, 250));
    expect(call(b, 'not_counted')).toBe(true);
    expect(b.state).toBe('half-open');
    expect(b.admit().admitted).toBe(true);
    b.shutdown();
  });

  it('when failures fall out of the rolling window, then they no longer count; below the volume it never opens', () => {
    let now = 1_000_000;
    const b = new CircuitBreaker('listings', { ...spec, volumeThreshold: 4 }, () => now);
    for (let i = 0; i < 3; i++) call(b, 'failure');
    expect(b.state).toBe('closed'); // 3 calls: under the volume threshold
    now += 10_500; // the window has moved past them
    for (let i = 0; i < 3; i++) call(b, 'failure');
    expect(b.state).toBe('closed');
    call(b, 'success');
    call(b, 'failure'); // 5 in the window, 4 failed: 80 % ≥ 50 %
    expect(b.state).toBe('open');
    b.shutdown();
  });

  it('when a permit reports twice, then only the first counts', () => {
    const b = new CircuitBreaker('listings', { ...spec, volumeThreshold: 2 });
    const a = b.admit();
    if (a.admitted) {
      a.done('failure');
      a.done('failure');
    }
    expect(b.state).toBe('closed');
    b.shutdown();
  });
});

describe('ConcurrencyLimit', () => {
  it('when full, then it refuses at once; a release frees one place, and only once', () => {
    const limit = new ConcurrencyLimit(2);
    const a = limit.tryAcquire()!;
    limit.tryAcquire();
    expect(limit.tryAcquire()).toBeUndefined();
    a();
    a();
    expect(limit.active).toBe(1);
    expect(limit.tryAcquire()).toBeDefined();
  });
});
