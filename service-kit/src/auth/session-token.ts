import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

export type Role = 'buyer' | 'supplier' | 'admin';

/** What a session token asserts. Short claim names keep the cookie small. */
export interface Session {
  /** Session id: what logout revokes. */
  sid: string;
  /** The user's id. */
  sub: number;
  role: Role;
  /** Issued at and expiry, seconds since the epoch. */
  iat: number;
  exp: number;
}

const VERSION = 'v1';
const ROLES: readonly Role[] = ['buyer', 'supplier', 'admin'];

/**
 * Stateless session tokens: `v1.<payload>.<HMAC-SHA256>`, base64url. Any process holding one of the
 * keys can verify a session without a database, which is what lets an extracted auth service take
 * over (or hand back) logins without logging anyone out. The first key signs; all keys verify, so
 * a key can be rotated without ending sessions.
 */
export class SessionTokens {
  readonly #keys: Buffer[];
  /** Lifetime of a new session, in seconds. */
  readonly ttlSeconds: number;

  constructor(secrets: readonly string[], ttlSeconds = 7 * 24 * 3600) {
    if (!secrets.length || secrets.some((s) => s.length < 32)) {
      throw new Error('session secrets must be at least 32 characters each, and there must be at least one');
    }
    this.#keys = secrets.map((s) => Buffer.from(s, 'utf8'));
    this.ttlSeconds = ttlSeconds;
  }

  issue(user: { id: number; role: Role }, now = Date.now()): { token: string; session: Session } {
    const iat = Math.floor(now / 1000);
    const session: Session = { sid: randomUUID(), sub: user.id, role: user.role, iat, exp: iat + this.ttlSeconds };
    const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
    return { token: `${VERSION}.${payload}.${this.#sign(this.#keys[0]!, payload)}`, session };
  }

  /** The session a token asserts, or undefined when it is malformed, forged or expired. */
  verify(token: string, now = Date.now()): Session | undefined {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== VERSION) return undefined;
    const [, payload, signature] = parts as [string, string, string];
    const given = Buffer.from(signature, 'base64url');
    const valid = this.#keys.some((key) => {
      const expected = Buffer.from(this.#sign(key, payload), 'base64url');
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
    if (!valid) return undefined;
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (!isSession(claims) || claims.exp * 1000 <= now) return undefined;
    return claims;
  }

  #sign(key: Buffer, payload: string): string {
    return createHmac('sha256', key).update(`${VERSION}.${payload}`).digest('base64url');
  }
}

function isSession(c: unknown): c is Session {
  if (typeof c !== 'object' || c === null) return false;
  const s = c as Record<string, unknown>;
  return (
    typeof s.sid === 'string' &&
    Number.isSafeInteger(s.sub) &&
    ROLES.includes(s.role as Role) &&
    Number.isSafeInteger(s.iat) &&
    Number.isSafeInteger(s.exp)
  );
}
