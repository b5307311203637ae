import { describe, expect, it } from 'vitest';
import { BreakerOpenError, CircuitBreaker, NotCountedError } from './circuit-breaker.ts';
import { ConcurrencyLimit } from './concurrency-limit.ts';

const spec = { errorThresholdPercentage: 50, volumeThreshold: 4, resetTimeoutMs: 200, rollingWindowMs: 10_000 };
const fail = () => Promise.reject(new Error('boom'));

describe('CircuitBreaker', () => {
  it('when failures pass the threshold, then it opens, fails fast with the time to retry, and one probe closes it', async () => {
    const b = new CircuitBreaker('listings', spec);
    const states: string[] = [];
    b.onStateChange((s) => states.push(s));
    for (let i = 0; i < 4; i++) await expect(b.run(fail)).rejects.toThrow('boom');
    expect(b.state).toBe('open');
    let ran = false;
    const err = await b.run(async () => (ran = true)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BreakerOpenError);
    expect((err as BreakerOpenError).retryAfterMs).toBeGreaterThan(0);
    expect(ran).toBe(false);

    await new Promise((r) => setTimeout(r, 250));
    expect(b.state).toBe('half-open');
    // Exactly one probe: while it is out, the others are refused.
    let release!: () => void;
    const probe = b.run(() => new Promise<string>((r) => (release = () => r('ok'))));
    const others = await Promise.allSettled([b.run(async () => 'x'), b.run(async () => 'y')]);
    expect(others.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    release();
    expect(await probe).toBe('ok');
    expect(b.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
    b.shutdown();
  });

  it('when errors are marked not counted, then they never open it', async () => {
    const b = new CircuitBreaker('listings', spec);
    for (let i = 0; i < 10; i++) await expect(b.run(() => Promise.reject(new NotCountedError('client left')))).rejects.toThrow();
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
