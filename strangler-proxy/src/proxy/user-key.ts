import { randomUUID } from 'node:crypto';

/** The proxy's own long-lived cookie: the canary key of a visitor without a session. */
export const UID_COOKIE = 'strangler_uid';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The key a canary split hashes and keyed writes are remembered by: the subject of the app's
 * session token when there is one (so a user keeps their side on every device), else the proxy's
 * uid cookie, else a new uid that the response sets — made only when a split or a keyed write asks
 * for the key, so a visitor is given a cookie by a route that needs one, not by every page, asset or
 * API call. The token is decoded, not verified: forging it only moves oneself between sides, which
 * grants nothing; the upstream still verifies it.
 */
export class UserKey {
  #key: string | undefined;
  #newUid: string | undefined;

  constructor(cookies: ReadonlyMap<string, string>, sessionCookie: string | undefined) {
    const subject = sessionCookie === undefined ? undefined : sessionSubject(cookies.get(sessionCookie));
    if (subject !== undefined) this.#key = `sub:${subject}`;
    else {
      const uid = cookies.get(UID_COOKIE);
      if (uid && UUID.test(uid)) this.#key = `uid:${uid}`;
    }
  }

  /** The key, a new uid made for it when the visitor has none. */
  get value(): string {
    if (this.#key === undefined) {
      this.#newUid = randomUUID();
      this.#key = `uid:${this.#newUid}`;
    }
    return this.#key;
  }

  /** The uid made for this request, which its response must set; undefined when none was. */
  get newUid(): string | undefined {
    return this.#newUid;
  }
}

function sessionSubject(token: string | undefined): string | undefined {
  if (!token) return undefined;
  const payload = token.split('.')[1];
  if (!payload || payload.length > 2048) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' || typeof claims.sub === 'number' ? String(claims.sub) : undefined;
  } catch {
    return undefined;
  }
}

/** The Set-Cookie value of a new uid; `secure` when the client reached us over TLS (a browser then never sends it in clear). */
export function uidCookie(uid: string, secure: boolean): string {
  return `${UID_COOKIE}=${uid}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}
