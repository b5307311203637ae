import { createHash } from 'node:crypto';
import type { ProxyErrorCode } from '../errors.ts';

interface Entry {
  bodyHash: string;
  inFlight: boolean;
  expiresAt: number;
}

/**
 * Remembers Idempotency-Keys per user for a while, in memory (row 33): a second request with a key
 * still in flight gets 409, and a key reused with a different request gets 422, before anything
 * reaches an upstream. Repeats of a finished request pass through: the upstream replays its answer.
 * Bounded: the oldest keys are forgotten first.
 */
export class IdempotencyGuard {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  readonly #ttlMs: number;

  constructor(opts: { maxEntries?: number; ttlMs?: number } = {}) {
    this.#max = opts.maxEntries ?? 100_000;
    this.#ttlMs = opts.ttlMs ?? 24 * 3600 * 1000;
  }

  /** Starts a keyed request: a release function, or the error code to answer. */
  begin(userKey: string, key: string, method: string, path: string, body: Buffer): { release: () => void } | { error: ProxyErrorCode } {
    const id = `${userKey}\u0000${key}`;
    const bodyHash = createHash('sha256').update(method).update('\u0000').update(path).update('\u0000').update(body).digest('hex');
    const now = Date.now();
    const existing = this.#entries.get(id);
    if (existing && existing.expiresAt > now) {
      if (existing.bodyHash !== bodyHash) return { error: 'idempotency_key_reused' };
      if (existing.inFlight) return { error: 'idempotency_key_in_flight' };
    }
    const entry: Entry = { bodyHash, inFlight: true, expiresAt: now + this.#ttlMs };
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    return { release: () => void (entry.inFlight = false) };
  }
}
