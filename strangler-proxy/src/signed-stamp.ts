import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * A value that proves who made it and lapses by itself: `<version>.<expires, epoch s>.<HMAC>`, the
 * HMAC-SHA256 (base64url) of `label(expires)` under a key. What the admin session cookie and the
 * dry-run mark are made of: checked in constant time, refused once expired or when it claims to
 * last longer than a stamp is ever issued for.
 */
export class SignedStamp {
  readonly #key: string | Buffer;
  readonly #version: string;
  readonly #label: (expires: number) => string;
  readonly #ttlSeconds: number;
  readonly #shape: RegExp;

  constructor(o: { key: string | Buffer; version: string; label: (expires: number) => string; ttlSeconds: number }) {
    this.#key = o.key;
    this.#version = o.version;
    this.#label = o.label;
    this.#ttlSeconds = o.ttlSeconds;
    this.#shape = new RegExp(`^${o.version.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d{1,12})\\.([A-Za-z0-9_-]{43})$`);
  }

  issue(nowMs: number = Date.now()): string {
    const expires = Math.floor(nowMs / 1000) + this.#ttlSeconds;
    return `${this.#version}.${expires}.${this.#mac(expires).toString('base64url')}`;
  }

  verify(value: string, nowMs: number = Date.now()): boolean {
    const m = this.#shape.exec(value);
    if (!m) return false;
    const expires = Number(m[1]);
    const now = Math.floor(nowMs / 1000);
    if (expires <= now || expires > now + this.#ttlSeconds) return false;
    // The text is compared, not its decoded bytes: base64url's last character carries two unused
    // bits, so decoding would let four spellings of one signature through.
    const given = Buffer.from(m[2]!);
    const expected = Buffer.from(this.#mac(expires).toString('base64url'));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  #mac(expires: number): Buffer {
    return createHmac('sha256', this.#key).update(this.#label(expires)).digest();
  }
}
