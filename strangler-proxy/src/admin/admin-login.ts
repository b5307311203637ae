import type http from 'node:http';
import { isAdminToken } from './admin-token.ts';
import { clearedSessionCookie, sessionCookie } from './admin-session.ts';
import { loginPage } from './report-page.ts';
import { BodyError, readBody } from '../proxy/read-body.ts';
import type { ProxyErrorCode } from '../errors.ts';

/** Where a login may send the browser on: an admin page of this listener, nothing else. */
const NEXT = /^\/__strangler(?:[/?][A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$/;
const HOME = '/__strangler/';

/** `next` when it is an admin page of this listener, else the report's overview (no open redirect). */
export function safeNext(next: string | null | undefined): string {
  return next && NEXT.test(next) ? next : HOME;
}

/**
 * Whether a form post comes from this listener's own pages: the browser's Origin must be the
 * admin's (its Host is already checked against the allow-list), or, without an Origin, the fetch
 * metadata must not say another site. A client sending neither is not a browser, so not a CSRF.
 */
export function sameOrigin(req: http.IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    try {
      const from = new URL(origin);
      return from.protocol === 'http:' && from.host === new URL(`http://${req.headers.host}`).host;
    } catch {
      // `null` (a sandboxed or file page) or garbage: not this listener's page.
      return false;
    }
  }
  const site = req.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}

export type Refuse = (code: ProxyErrorCode, message?: string) => void;

/** An HTML answer that can run no script and be framed by no one; never cached. */
export function sendHtml(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

/** The login form in place of a page that needs a session: 401, and back to that page after. */
export function sendLoginForm(res: http.ServerResponse, next: string, error?: string): void {
  sendHtml(res, 401, loginPage({ next: safeNext(next), error }), { 'www-authenticate': 'Bearer realm="strangler"' });
}

/**
 * `POST /__strangler/login` (form: token, next): checks the token in constant time and answers
 * 303 to `next` with a session cookie, or the form again with 401.
 */
export async function handleLogin(req: http.IncomingMessage, res: http.ServerResponse, adminToken: string, refuse: Refuse): Promise<void> {
  if (!sameOrigin(req))
    return refuse(
      'cross_origin_request',
      'Log in from the admin listener’s own login form (/__strangler/login); a form posted from another site is refused.',
    );
  if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? ''))
    return refuse('bad_request', 'post the login form as application/x-www-form-urlencoded: token=<ADMIN_TOKEN>');
  let body: Buffer;
  try {
    body = await readBody(req, { maxBytes: 4096, deadline: Date.now() + 5_000 });
  } catch (err) {
    return refuse(
      err instanceof BodyError && err.reason === 'too_large' ? 'payload_too_large' : 'bad_request',
      'the login form must be at most 4 096 bytes, sent at once',
    );
  }
  const form = new URLSearchParams(body.toString('utf8'));
  const next = safeNext(form.get('next'));
  if (!isAdminToken(form.get('token') ?? undefined, adminToken)) return sendLoginForm(res, next, 'That is not this proxy’s ADMIN_TOKEN.');
  res.writeHead(303, { location: next, 'set-cookie': sessionCookie(adminToken), 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
}

/** `POST /__strangler/logout`: ends the browser's session and shows the login form. */
export function handleLogout(req: http.IncomingMessage, res: http.ServerResponse, refuse: Refuse): void {
  if (!sameOrigin(req)) return refuse('cross_origin_request', 'Log out from the admin listener’s own pages.');
  res.writeHead(303, {
    location: '/__strangler/login',
    'set-cookie': clearedSessionCookie(),
    'cache-control': 'no-store',
    'content-length': 0,
  });
  res.end();
}

/** `GET /__strangler/login`: the form on its own, 200. */
export function showLogin(res: http.ServerResponse, next: string | null): void {
  sendHtml(res, 200, loginPage({ next: safeNext(next) }));
}
