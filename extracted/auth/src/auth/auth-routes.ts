// Copied from monolith/src/auth/auth-routes.ts; the monolith's copy retires with the auth group's cutover. Differences: register and logout honour the dry-run header (a mirrored register keeps no user, a mirrored logout revokes nothing).
import { Router, type Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../app-context.ts';
import {
  ApiError,
  dummyHash,
  hashPassword,
  isDryRun,
  parse,
  requireSession,
  SESSION_COOKIE,
  sessionCookie,
  verifyPassword,
} from '@strangler/service-kit';
import { findCredentials, findUserById, insertUser, type User } from './users.ts';

const email = z
  .string({ error: 'is required' })
  .trim()
  .toLowerCase()
  .max(254, { error: 'must be at most 254 characters' })
  .pipe(z.email({ error: 'must be an email address' }));

const RegisterBody = z.strictObject({
  email,
  password: z.string({ error: 'is required' }).min(8, 'must be at least 8 characters').max(200, 'must be at most 200 characters'),
  name: z.string({ error: 'is required' }).trim().min(1, 'is required').max(100, 'must be at most 100 characters'),
  role: z.enum(['buyer', 'supplier']).default('buyer'),
});

const LoginBody = z.strictObject({
  email: z.string({ error: 'is required' }).trim().min(1, 'is required').max(254, 'must be at most 254 characters'),
  password: z.string({ error: 'is required' }).min(1, 'is required').max(200, 'must be at most 200 characters'),
});

/** /api/auth: register, login, logout, me. */
export function authRoutes(ctx: AppContext): Router {
  const router = Router();

  const startSession = (res: Response, user: User): void => {
    const { token } = ctx.tokens.issue(user);
    res.setHeader('Set-Cookie', sessionCookie(SESSION_COOKIE, token, { maxAgeSeconds: ctx.tokens.ttlSeconds, secure: ctx.secureCookies }));
  };

  router.post('/register', async (req, res) => {
    const body = parse(RegisterBody, req.body);
    const passwordHash = await hashPassword(body.password);
    const user = await ctx.db.withTransaction((tx) => insertUser(tx, { ...body, passwordHash }), { rollback: isDryRun(req) });
    if (!user) throw new ApiError('email_taken', { fields: { email: 'is already registered' } });
    startSession(res, user);
    res.status(201).json({ user });
  });

  router.post('/login', async (req, res) => {
    const body = parse(LoginBody, req.body);
    // Before anything is hashed: a throttled guess costs no scrypt run.
    const attempt = await ctx.loginThrottle.begin(req, body.email);
    const found = await findCredentials(ctx.db, body.email);
    // Hash even when the email is unknown, so the response time does not reveal which emails exist.
    const ok = await verifyPassword(body.password, found?.passwordHash ?? (await dummyHash()));
    if (!found || !ok) {
      await attempt.failed();
      throw new ApiError('invalid_credentials');
    }
    await attempt.succeeded();
    startSession(res, found.user);
    res.json({ user: found.user });
  });

  router.post('/logout', async (req, res) => {
    if (req.session && !isDryRun(req)) await ctx.revocations.revoke(req.session.sid, new Date(req.session.exp * 1000));
    res.setHeader('Set-Cookie', sessionCookie(SESSION_COOKIE, '', { maxAgeSeconds: 0, secure: ctx.secureCookies }));
    res.status(204).end();
  });

  router.get('/me', async (req, res) => {
    const session = requireSession(req);
    const user = await findUserById(ctx.db, session.sub);
    if (!user) throw new ApiError('unauthenticated');
    res.json({ user });
  });

  return router;
}
