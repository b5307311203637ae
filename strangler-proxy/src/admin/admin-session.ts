import { parseCookies } from '@strangler/service-kit/cookies';
import { SignedStamp } from '../signed-stamp.ts';

/** The cookie a login through the report page's form sets. */
export const SESSION_COOKIE = 'strangler_admin';
/** How long a browser session lasts, seconds (12 h): a working day, then the token again. */
export const SESSION_SECONDS = 12 * 60 * 60;

// An HMAC of the expiry keyed by the token: the cookie proves the token was known without holding
// it, lapses by itself, and every session ends when the token is rotated.
const stampOf = (token: string): SignedStamp =>
  new SignedStamp({ key: token, version: 'v1', label: (expires) => `strangler admin session v1 ${expires}`, ttlSeconds: SESSION_SECONDS });

/**
 * The Set-Cookie value of a new session: HttpOnly (no script reads it), SameSite=Strict (no other
 * site's page sends it), and only for the admin paths, so it never rides along to the public port's
 * upstreams on the same host.
 */
export function sessionCookie(token: string, nowMs: number = Date.now()): string {
  return `${SESSION_COOKIE}=${stampOf(token).issue(nowMs)}; Max-Age=${SESSION_SECONDS}; Path=/__strangler; HttpOnly; SameSite=Strict`;
}

/** The Set-Cookie value that ends the session in the browser. */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Max-Age=0; Path=/__strangler; HttpOnly; SameSite=Strict`;
}

/** Whether a Cookie header holds an unexpired session made with `token` (compared in constant time). */
export function hasSession(cookieHeader: string | undefined, token: string | undefined, nowMs: number = Date.now()): boolean {
  if (!token) return false;
  return stampOf(token).verify(parseCookies(cookieHeader).get(SESSION_COOKIE) ?? '', nowMs);
}
