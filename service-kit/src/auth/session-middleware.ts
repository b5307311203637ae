import type { NextFunction, Request, Response } from 'express';
import { ApiError } from '../http/errors.ts';
import { parseCookies, SESSION_COOKIE } from '../http/cookies.ts';
import type { SessionRevocations } from './revocations.ts';
import type { Role, Session, SessionTokens } from './session-token.ts';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The caller's verified, unrevoked session, when it sent one. */
      session?: Session;
    }
  }
}

export { SESSION_COOKIE };

/** Attaches `req.session` for a valid token; an invalid, expired or revoked one is simply absent. */
export function sessionMiddleware(tokens: SessionTokens, revocations: SessionRevocations) {
  return async (req: Request, _res: Response, next: NextFunction): Promise<void> => {
    const token = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    const session = token ? tokens.verify(token) : undefined;
    // When the revocation store cannot be asked, the session cannot be trusted: the caller is
    // treated as logged out (public pages still work) rather than the request failing.
    if (session && !(await revocations.isRevoked(session.sid).catch(() => true))) req.session = session;
    next();
  };
}

/** The caller's session, or 401. */
export function requireSession(req: Request): Session {
  if (!req.session) throw new ApiError('unauthenticated');
  return req.session;
}

/** The caller's session when its role is one of `roles`, else 401/403. */
export function requireRole(req: Request, ...roles: Role[]): Session {
  const session = requireSession(req);
  if (!roles.includes(session.role)) throw new ApiError('forbidden');
  return session;
}
