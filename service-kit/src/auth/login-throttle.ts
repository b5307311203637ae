import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { clientAddress } from '../http/client-address.ts';
import { isDryRun } from '../http/dry-run.ts';
import { ApiError } from '../http/errors.ts';
import { memoryThrottleStore, redisThrottleStore, type CounterRef, type Pacing, type ThrottleStore } from './throttle-store.ts';

/** The login throttle's settings (every app reads them the same way: `loadAppConfig`). */
export interface LoginThrottleConfig {
  /** Failed logins of one account (its normalised email) answered before further ones must wait (LOGIN_THROTTLE_ACCOUNT_FAILURES, default 5). */
  accountFailures: number;
  /** Failed logins from one client address, whatever the accounts, before further ones must wait (LOGIN_THROTTLE_CLIENT_FAILURES, default 20). */
  clientFailures: number;
  /** The wait once a limit is reached, in seconds; it doubles with every further failure (LOGIN_THROTTLE_FIRST_WAIT_SECONDS, default 1). */
  firstWaitSeconds: number;
  /** The longest wait, in seconds (LOGIN_THROTTLE_MAX_WAIT_SECONDS, default 900). */
  maxWaitSeconds: number;
  /** How long failures are remembered after the last wait ends, in seconds (LOGIN_THROTTLE_WINDOW_SECONDS, default 900). */
  windowSeconds: number;
  /** Proxies in front of the app that each append to X-Forwarded-For; the outermost's entry is the client (FORWARDED_FOR_HOPS, default 1: the strangler proxy). */
  forwardedForHops: number;
  /** Prefix of the counters' Redis keys; apps that count together share it (LOGIN_THROTTLE_KEY_PREFIX, default `strangler:login-throttle:`). */
  keyPrefix: string;
}

/** The defaults, for a shop: a user who mistypes a few times barely notices; a guesser gets a handful of tries an hour. */
export const DEFAULT_LOGIN_THROTTLE: Readonly<LoginThrottleConfig> = Object.freeze({
  accountFailures: 5,
  clientFailures: 20,
  firstWaitSeconds: 1,
  maxWaitSeconds: 900,
  windowSeconds: 900,
  forwardedForHops: 1,
  keyPrefix: 'strangler:login-throttle:',
});

/** One login attempt let through: say how it ended. */
export interface LoginAttempt {
  failed(): Promise<void>;
  succeeded(): Promise<void>;
}

/**
 * Slows password guessing before any password is hashed. Why this shape:
 *
 * - Failures are counted per account (any email, registered or not, so a refusal tells nothing
 *   about which accounts exist) and per client address across accounts (one machine spraying
 *   common passwords over many accounts).
 * - Below a limit nothing changes. At the limit an attempt must wait, and the wait doubles with
 *   each further failure up to a cap (1 s, 2 s, 4 s … 15 min by default, as Amazon Cognito does),
 *   rather than a fixed lockout: a user who mistyped a few times waits seconds, never a quarter of
 *   an hour, and someone guessing to lock a victim out holds them out only as long as they keep
 *   paying one guess per wait. A successful login forgets the account's failures at once.
 *   A success does not forget the client's failures (a guesser could log in to an account of their
 *   own between guesses); it only gives back its own attempt.
 * - Attempts are counted when they start, so a burst of parallel guesses cannot all pass the check
 *   before the first has failed; a throttled attempt costs no scrypt run.
 * - With Redis (REDIS_URL) the counters are shared by every instance of the monolith and of the
 *   auth service, so a guesser cannot double their budget by hitting both sides of the migration.
 *   When Redis cannot be reached, the throttle fails open to this process's own counters, with a
 *   log line and a count: logins are what the shop cannot be without, and a per-process count still
 *   bounds guessing. (Revocations fail closed instead: there, answering wrongly lets a logged-out
 *   session in.)
 * - A mirrored login (dry run) is checked but never counted: the primary side already counted it
 *   (so the mirror of the attempt that reaches a limit already sees the wait, and answers 429).
 * - Keys carry the hash tag `{login}`, so the scripts that touch an account's and a client's
 *   counters together also run on a clustered Redis.
 */
export interface LoginThrottle {
  /** Throws 429 `too_many_attempts` (with Retry-After) when this account or client must wait; else the attempt, counted. */
  begin(req: IncomingMessage, email: string): Promise<LoginAttempt>;
  /** How many times Redis failed a throttle call (each fell back to this process's counters). */
  readonly redisErrors: number;
  close(): Promise<void>;
}

/** How long the throttle counts in the process alone after Redis failed, before asking Redis again. */
const REDIS_RETRY_MS = 5_000;

/** The login throttle of one app: Redis when `redisUrl` is set (failing open to the process's counters), else the process's counters. */
export function createLoginThrottle(o: {
  config: LoginThrottleConfig;
  redisUrl: string | undefined;
  log: Logger;
  memoryEntries?: number;
  commandTimeoutMs?: number;
}): LoginThrottle {
  const c = o.config;
  const pacing: Pacing = { firstWaitMs: c.firstWaitSeconds * 1000, maxWaitMs: c.maxWaitSeconds * 1000, windowMs: c.windowSeconds * 1000 };
  const memory = memoryThrottleStore(pacing, o.memoryEntries);
  const redis = o.redisUrl ? redisThrottleStore(o.redisUrl, pacing, { commandTimeoutMs: o.commandTimeoutMs }) : undefined;
  let redisErrors = 0;
  let redisDown = false;
  let retryRedisAt = 0;

  const run = async <T>(op: (store: ThrottleStore) => Promise<T>): Promise<T> => {
    // After a failure Redis is left alone for a while: asking it on every login of an outage would
    // add its timeout to each of them.
    if (!redis || (redisDown && Date.now() < retryRedisAt)) return op(memory);
    try {
      const result = await op(redis);
      if (redisDown) {
        redisDown = false;
        o.log.info({ redisErrors }, 'login throttle: Redis answers again; counting is shared again');
      }
      return result;
    } catch (err) {
      redisErrors += 1;
      retryRedisAt = Date.now() + REDIS_RETRY_MS;
      // One line per outage, not per login: a flood of guesses must not become a flood of logs.
      if (!redisDown) {
        redisDown = true;
        o.log.warn(
          { err: (err as Error).message, redisErrors },
          'login throttle: Redis unreachable; failing open to this process\u2019s own counters',
        );
      }
      return op(memory);
    }
  };

  return {
    async begin(req, email) {
      // Hashed: the counters need no readable email in Redis.
      const account: CounterRef = {
        key: `${c.keyPrefix}{login}:account:${createHash('sha256').update(email.trim().toLowerCase()).digest('hex')}`,
        limit: c.accountFailures,
      };
      const client: CounterRef = { key: `${c.keyPrefix}{login}:client:${clientAddress(req, c.forwardedForHops)}`, limit: c.clientFailures };
      const dryRun = isDryRun(req);
      const waitMs = await run((s) => s.take([account, client], Date.now(), !dryRun));
      if (waitMs > 0) throw new ApiError('too_many_attempts', { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) });
      if (dryRun) return { failed: async () => {}, succeeded: async () => {} };
      return {
        failed: () => run((s) => s.failed([account, client], Date.now())),
        succeeded: () => run((s) => s.succeeded(account, [client])),
      };
    },
    get redisErrors() {
      return redisErrors;
    },
    async close() {
      await redis?.close();
      await memory.close();
    },
  };
}
