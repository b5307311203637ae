/**
 * The cookie that carries the apps' session token; shared with the auth service, so never renamed.
 * The proxy is told it (`SESSION_COOKIE`) so that a user's canary side follows their session.
 */
export const SESSION_COOKIE = 'cacao_session';

/** Cookie name → value from a Cookie header; the first occurrence of a name wins (RFC 6265 §5.4). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || out.has(name)) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      out.set(name, decodeURIComponent(value));
    } catch {
      out.set(name, value);
    }
  }
  return out;
}

export interface CookieOptions {
  maxAgeSeconds: number;
  /** Send only over HTTPS: on wherever the app is served over TLS. */
  secure: boolean;
}

/** A Set-Cookie value for a session cookie: HttpOnly, SameSite=Lax, whole site. */
export function sessionCookie(name: string, value: string, opts: CookieOptions): string {
  const attrs = [`${name}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${opts.maxAgeSeconds}`];
  if (opts.secure) attrs.push('Secure');
  return attrs.join('; ');
}
