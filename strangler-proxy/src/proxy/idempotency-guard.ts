import { createHash } from 'node:crypto';
import type { ProxyErrorCode } from '../errors.ts';

interface Entry {
  bodyHash: string;
  inFlight: boolean;
  expiresAt: number;
  /** The upstream that may have seen a request with this key: every retry goes there. */
  side: string | undefined;
}

/** A keyed request being handled. */
export interface KeyedRequest {
  /** The upstream an earlier attempt with this key may have reached, if any. */
  readonly side: string | undefined;
  /** Records that an attempt may have reached `upstream` (it was sent, or it answered). */
  reached(upstream: string): void;
  /** The request has ended: the key may be used again (a retry). */
  release(): void;
}

/**
 * Remembers Idempotency-Keys per user for a while, in memory: a second request with a key still in
 * flight gets 409, and a key reused with a different request gets 422, before anything reaches an
 * upstream. Repeats of a finished request pass through, to the side an earlier attempt may have
 * reached: that side alone holds the key's record, and replays its answer (or runs the write once,
 * if the earlier attempt never committed); any other side would apply it a second time.
 * Bounded: the oldest keys are forgotten first. Per proxy process: a fleet shares it once the route
 * table's shared store holds it too.
 */
export class IdempotencyGuard {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  readonly #ttlMs: number;

  constructor(opts: { maxEntries?: number; ttlMs?: number } = {}) {
    this.#max = opts.maxEntries ?? 100_000;
    this.#ttlMs = opts.ttlMs ?? 24 * 3600 * 1000;
  }

  /** Starts a keyed request, or says which error code to answer. */
  begin(userKey: string, key: string, method: string, path: string, body: Buffer): KeyedRequest | { error: ProxyErrorCode } {
    const id = `${userKey}\u0000${key}`;
    const bodyHash = createHash('sha256').update(method).update('\u0000').update(path).update('\u0000').update(body).digest('hex');
    const now = Date.now();
    const existing = this.#entries.get(id);
    if (existing && existing.expiresAt > now) {
      if (existing.bodyHash !== bodyHash) return { error: 'idempotency_key_reused' };
      if (existing.inFlight) return { error: 'idempotency_key_in_flight' };
    }
    const side = existing && existing.expiresAt > now ? existing.side : undefined;
    const entry: Entry = { bodyHash, inFlight: true, expiresAt: now + this.#ttlMs, side };
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    return {
      side,
      reached: (upstream) => void (entry.side ??= upstream),
      release: () => void (entry.inFlight = false),
    };
  }
}
