import { Redis } from 'ioredis';

/** How waits grow: every time in ms. */
export interface Pacing {
  /** The wait once a counter reaches its limit; it doubles with every further failure. */
  firstWaitMs: number;
  /** The longest wait. */
  maxWaitMs: number;
  /** How long a counter is remembered after its wait ends (or after its last failure, below the limit). */
  windowMs: number;
}

/** One failure counter and the number of failures it tolerates before attempts must wait. */
export interface CounterRef {
  key: string;
  limit: number;
}

/** Failure counters, kept in Redis (shared) or in the process; both follow the same rules. */
export interface ThrottleStore {
  /**
   * The ms until every counter lets an attempt through (0: it may go). When it may go and `count`
   * is set, each counter counts the attempt as a failure at once, so that concurrent attempts
   * cannot all pass the check before any has failed; a success gives it back (`succeeded`).
   */
  take(counters: CounterRef[], now: number, count: boolean): Promise<number>;
  /** A counted attempt failed: each counter's wait runs from now, when the client got its answer. */
  failed(counters: CounterRef[], now: number): Promise<void>;
  /** A counted attempt succeeded: `reset` is forgotten, each of `refund` gets its attempt back. */
  succeeded(reset: CounterRef, refund: CounterRef[]): Promise<void>;
  close(): Promise<void>;
}

/** The wait that `failures` failures impose on a counter with `limit`: none below it, then first·2^(failures−limit), capped. */
export function waitAfter(failures: number, limit: number, p: Pacing): number {
  return failures < limit ? 0 : Math.min(p.firstWaitMs * 2 ** (failures - limit), p.maxWaitMs);
}

interface Entry {
  failures: number;
  /** When the latest failure was answered (or counted), ms since the epoch. */
  last: number;
  expires: number;
}

/**
 * Counters in this process only: the fallback when no Redis is configured or Redis cannot be
 * reached. At most `maxEntries` counters; the least recently touched goes first, so a flood of
 * made-up emails costs bounded memory (what it evicts merely forgets, it never blocks).
 */
export function memoryThrottleStore(p: Pacing, maxEntries = 100_000): ThrottleStore {
  const entries = new Map<string, Entry>();
  const get = (key: string, now: number): Entry | undefined => {
    const e = entries.get(key);
    if (e && e.expires <= now) entries.delete(key);
    return e && e.expires > now ? e : undefined;
  };
  const put = (key: string, e: Entry): void => {
    entries.delete(key);
    entries.set(key, e);
    while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
  };
  return {
    async take(counters, now, count) {
      let wait = 0;
      for (const c of counters) {
        const e = get(c.key, now);
        if (e) wait = Math.max(wait, e.last + waitAfter(e.failures, c.limit, p) - now);
      }
      if (wait > 0 || !count) return Math.max(0, Math.ceil(wait));
      for (const c of counters) {
        const failures = (get(c.key, now)?.failures ?? 0) + 1;
        put(c.key, { failures, last: now, expires: now + waitAfter(failures, c.limit, p) + p.windowMs });
      }
      return 0;
    },
    async failed(counters, now) {
      for (const c of counters) {
        const e = get(c.key, now);
        if (e) put(c.key, { failures: e.failures, last: now, expires: now + waitAfter(e.failures, c.limit, p) + p.windowMs });
      }
    },
    async succeeded(reset, refund) {
      entries.delete(reset.key);
      for (const c of refund) {
        const e = entries.get(c.key);
        if (e && e.failures > 0) e.failures -= 1;
      }
    },
    async close() {
      entries.clear();
    },
  };
}

// The Lua twins of the rules above: each runs atomically in Redis, so every instance of every app
// sees one count. ARGV starts with first, max and window (ms); the counters' limits follow.
const WAIT = `
local first, maxw, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local function wait_after(n, limit)
  if n < limit then return 0 end
  return math.min(first * 2 ^ (n - limit), maxw)
end
`;

const TAKE = `${WAIT}
local now, count = tonumber(ARGV[4]), ARGV[5] == '1'
local wait = 0
for i, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'n', 'last')
  local n = tonumber(v[1]) or 0
  local w = (tonumber(v[2]) or 0) + wait_after(n, tonumber(ARGV[5 + i])) - now
  if n > 0 and w > wait then wait = w end
end
if wait > 0 or not count then return math.ceil(wait) end
for i, key in ipairs(KEYS) do
  local n = redis.call('HINCRBY', key, 'n', 1)
  redis.call('HSET', key, 'last', now)
  redis.call('PEXPIRE', key, math.ceil(wait_after(n, tonumber(ARGV[5 + i])) + window))
end
return 0
`;

const FAILED = `${WAIT}
local now = tonumber(ARGV[4])
for i, key in ipairs(KEYS) do
  local n = tonumber(redis.call('HGET', key, 'n'))
  if n then
    redis.call('HSET', key, 'last', now)
    redis.call('PEXPIRE', key, math.ceil(wait_after(n, tonumber(ARGV[4 + i])) + window))
  end
end
return 0
`;

const SUCCEEDED = `
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  local n = tonumber(redis.call('HGET', KEYS[i], 'n'))
  if n and n > 0 then redis.call('HINCRBY', KEYS[i], 'n', -1) end
end
return 0
`;

/**
 * Counters in Redis, shared by the monolith and every service instance, so a guesser cannot add up
 * budgets by spreading attempts over processes or over both sides of a migration. Commands give up
 * after `commandTimeoutMs` (and do not wait through reconnects), because a login must not hang on
 * an unreachable Redis: the caller then falls back (see `createLoginThrottle`).
 */
export function redisThrottleStore(url: string, p: Pacing, opts: { commandTimeoutMs?: number } = {}): ThrottleStore {
  // lazyConnect: an app that never serves a login never opens this connection.
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    commandTimeout: opts.commandTimeoutMs ?? 500,
  });
  // Connection errors surface on the commands; do not crash on the event.
  redis.on('error', () => {});
  const pacing = [p.firstWaitMs, p.maxWaitMs, p.windowMs];
  const keys = (counters: CounterRef[]) => counters.map((c) => c.key);
  const limits = (counters: CounterRef[]) => counters.map((c) => c.limit);
  return {
    async take(counters, now, count) {
      return Number(await redis.eval(TAKE, counters.length, ...keys(counters), ...pacing, now, count ? '1' : '0', ...limits(counters)));
    },
    async failed(counters, now) {
      await redis.eval(FAILED, counters.length, ...keys(counters), ...pacing, now, ...limits(counters));
    },
    async succeeded(reset, refund) {
      await redis.eval(SUCCEEDED, 1 + refund.length, reset.key, ...keys(refund));
    },
    async close() {
      // Never connected (no login served): nothing to say goodbye to, and quit would connect first.
      if (redis.status === 'wait') redis.disconnect();
      else await redis.quit().catch(() => redis.disconnect());
    },
  };
}
