import { createHmac, randomBytes } from 'node:crypto';
import { SignedStamp } from '../signed-stamp.ts';

export { DRY_RUN_HEADER } from '@strangler/service-kit/dry-run';

/**
 * The dry-run marker the proxy puts on a mirrored write, `1.<expires, epoch s>.<HMAC>`. An app
 * treats any value starting with `1` as "run it, answer, keep nothing", and passes the value on, as
 * it is, on the calls it makes through the proxy for that request (an order's stock reservation).
 * The proxy keeps the header on such a call only when the HMAC proves it issued the mark, so a dry
 * run stays one across every internal hop, while a client cannot make its own writes vanish.
 * Every proxy of a fleet must share the key: a mirror issued by one is checked by whichever
 * instance the app's call reaches.
 */
export class DryRunMarks {
  readonly #stamp: SignedStamp;

  /** `ttlSeconds`: how long an issued mark is honoured (default 300: longer than any mirrored request and its internal calls). */
  constructor(key: Buffer, ttlSeconds = 300) {
    this.#stamp = new SignedStamp({ key, version: '1', label: (expires) => `dry-run.${expires}`, ttlSeconds });
  }

  /**
   * The key from the settings: DRY_RUN_SECRET; else derived from the admin token (which a fleet
   * already shares); else random, which only a single proxy can check.
   */
  static fromSecrets(dryRunSecret: string | undefined, adminToken: string | undefined): DryRunMarks {
    if (dryRunSecret) return new DryRunMarks(Buffer.from(dryRunSecret));
    if (adminToken) return new DryRunMarks(createHmac('sha256', adminToken).update('strangler dry-run marks').digest());
    return new DryRunMarks(randomBytes(32));
  }

  // A mark depends only on the second it is issued in (its expiry), so the one of the current
  // second is made once: an HMAC per mirrored request was 7 % of the proxy's time with every request mirrored.
  #issuedSecond = NaN;
  #issued = '';

  issue(nowMs = Date.now()): string {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.#issuedSecond) {
      this.#issued = this.#stamp.issue(nowMs);
      this.#issuedSecond = second;
    }
    return this.#issued;
  }

  /** Whether `value` is a mark this key issued that has not expired. Constant time in the signature. */
  verify(value: string, nowMs = Date.now()): boolean {
    return this.#stamp.verify(value, nowMs);
  }
}
