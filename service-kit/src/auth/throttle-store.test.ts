import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { addressBucket } from '../http/client-address.ts';
import { memoryThrottleStore, redisThrottleStore, waitAfter, type CounterRef, type Pacing, type ThrottleStore } from './throttle-store.ts';

// The machine's Redis (CI exports REDIS_URL).
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const PACING: Pacing = { firstWaitMs: 1000, maxWaitMs: 8000, windowMs: 60_000 };
const T0 = 1_800_000_000_000;

const stores: Record<string, ThrottleStore> = { memory: memoryThrottleStore(PACING), redis: redisThrottleStore(REDIS_URL, PACING) };
afterAll(async () => {
  for (const s of Object.values(stores)) await s.close();
});

const counter = (limit: number): CounterRef => ({ key: `test:throttle:${randomUUID()}`, limit });

/** One failed attempt at `now`: taken, then answered. */
async function fail(store: ThrottleStore, counters: CounterRef[], now: number): Promise<number> {
  const wait = await store.take(counters, now, true);
  if (wait === 0) await store.failed(counters, now);
  return wait;
}

describe.each(Object.keys(stores))('the %s throttle store', (name) => {
  const store = stores[name]!;

  it('when failures reach the limit, then the next attempt waits, and each further failure doubles the wait up to the cap', async () => {
    const c = counter(3);
    for (let i = 0; i < 3; i++) expect(await fail(store, [c], T0 + i)).toBe(0);
    // The third failure was answered at T0+2: the wait runs from then.
    expect(await store.take([c], T0 + 2, true)).toBe(1000);
    expect(await store.take([c], T0 + 502, true)).toBe(500);
    const waits: number[] = [];
    let now = T0 + 2;
    for (let i = 0; i < 5; i++) {
      now += waitAfter(3 + i, 3, PACING);
      expect(await fail(store, [c], now)).toBe(0);
      waits.push(await store.take([c], now, true));
    }
    expect(waits).toEqual([2000, 4000, 8000, 8000, 8000]);
  });

  it('when an attempt is taken, then a concurrent one sees it counted before it has failed', async () => {
    const c = counter(1);
    expect(await store.take([c], T0, true)).toBe(0);
    expect(await store.take([c], T0, true)).toBe(1000);
  });

  it('when a peek (not counted) is taken, then it counts nothing', async () => {
    const c = counter(1);
    for (let i = 0; i < 5; i++) expect(await store.take([c], T0, false)).toBe(0);
    expect(await fail(store, [c], T0)).toBe(0);
    expect(await store.take([c], T0, false)).toBe(1000);
  });

  it('when an attempt succeeds, then the reset counter forgets everything and the refunded one gives back only that attempt', async () => {
    const account = counter(2);
    const client = counter(2);
    expect(await fail(store, [account, client], T0)).toBe(0);
    expect(await store.take([account, client], T0, true)).toBe(0);
    await store.succeeded(account, [client]);
    // The client has one failure left on record, the account none.
    expect(await fail(store, [client], T0)).toBe(0);
    expect(await store.take([client], T0, true)).toBe(1000);
    expect(await fail(store, [account], T0)).toBe(0);
    expect(await store.take([account], T0, true)).toBe(0);
  });

  it('when any of several counters must wait, then the attempt waits for the longest and counts on none', async () => {
    const blocked = counter(1);
    const free = counter(10);
    expect(await fail(store, [blocked], T0)).toBe(0);
    expect(await store.take([free, blocked], T0 + 300, true)).toBe(700);
    for (let i = 0; i < 9; i++) expect(await fail(store, [free], T0)).toBe(0);
    expect(await store.take([free], T0, true)).toBe(0);
  });
});

describe('the Redis throttle store', () => {
  it('when two stores (two apps) use one Redis, then they count together', async () => {
    const other = redisThrottleStore(REDIS_URL, PACING);
    try {
      const c = counter(2);
      expect(await fail(stores.redis!, [c], T0)).toBe(0);
      expect(await fail(other, [c], T0)).toBe(0);
      expect(await stores.redis!.take([c], T0, true)).toBe(1000);
    } finally {
      await other.close();
    }
  });

  it('when failures are older than the window, then Redis has forgotten them', async () => {
    const short = redisThrottleStore(REDIS_URL, { firstWaitMs: 1000, maxWaitMs: 1000, windowMs: 150 });
    try {
      const c = counter(2);
      const now = Date.now();
      expect(await fail(short, [c], now)).toBe(0);
      await new Promise((r) => setTimeout(r, 300));
      expect(await fail(short, [c], now)).toBe(0);
      // One failure on record, not two.
      expect(await short.take([c], now, true)).toBe(0);
    } finally {
      await short.close();
    }
  });

  it('when Redis cannot be reached, then a call fails within the command timeout instead of hanging', async () => {
    const down = redisThrottleStore('redis://127.0.0.1:1', PACING, { commandTimeoutMs: 300 });
    try {
      const started = Date.now();
      await expect(down.take([counter(1)], T0, true)).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await down.close();
    }
  });
});

describe('the memory throttle store', () => {
  it('when more counters than its bound are touched, then the least recently touched are evicted', async () => {
    const small = memoryThrottleStore(PACING, 2);
    const [a, b, c] = [counter(1), counter(1), counter(1)];
    for (const k of [a, b, c]) expect(await fail(small, [k], T0)).toBe(0);
    expect(await small.take([a], T0, false)).toBe(0);
    expect(await small.take([b], T0, false)).toBe(1000);
    expect(await small.take([c], T0, false)).toBe(1000);
  });

  it('when a counter is older than the window, then it is forgotten', async () => {
    const c = counter(1);
    const store = stores.memory!;
    expect(await fail(store, [c], T0)).toBe(0);
    expect(await store.take([c], T0 + 999, false)).toBe(1);
    expect(await store.take([c], T0 + 1000 + 60_000, false)).toBe(0);
    // Forgotten, not merely past its wait: a failure now starts from one again.
    expect(await fail(store, [c], T0 + 1000 + 60_000)).toBe(0);
  });
});

describe('addressBucket', () => {
  it('when an address is IPv4 mapped into IPv6, IPv6, or not an address, then it is the IPv4 address, the /64, or itself', () => {
    expect(addressBucket('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressBucket('203.0.113.7')).toBe('203.0.113.7');
    expect(addressBucket('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressBucket('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressBucket('2001:db8::1%eth0')).toBe('2001:db8:0:0::/64');
    expect(addressBucket('::1')).toBe('0:0:0:0::/64');
    expect(addressBucket('x'.repeat(100))).toHaveLength(64);
  });
});
