import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { SessionTokens } from '@strangler/service-kit';
import { buyer, PASSWORD } from '@strangler/stack/testing';
import { describeTargets, itNeeds, type ContractTarget } from '../../src/contract-targets.ts';
import { SESSION_SECRET } from '../../src/system.ts';

/** The session cookie among those set (the proxy may set its own canary cookie beside it). */
const sessionCookie = (headers: Headers): string | undefined => headers.getSetCookie().find((c) => c.startsWith('cacao_session='));

// One contract for whoever serves /api/auth: the monolith, or the auth service behind the proxy.
describeTargets('auth', (target) => {
  let app: ContractTarget;
  beforeAll(() => {
    app = target();
  });

  describe('POST /api/auth/register', () => {
    it('when the body is valid, then it creates a buyer, logs them in and never returns the hash', async () => {
      const client = app.client();
      // A name of its own: a deployment keeps the accounts of earlier runs.
      const tag = randomUUID().slice(0, 8);
      const res = await client.post('/api/auth/register', {
        email: `  New.Buyer.${tag}@Test.Example `,
        password: PASSWORD,
        name: 'New Buyer',
      });
      expect(res.status).toBe(201);
      expect(res.body.user).toMatchObject({ email: `new.buyer.${tag}@test.example`, name: 'New Buyer', role: 'buyer' });
      expect(res.body.user).not.toHaveProperty('passwordHash');
      expect(sessionCookie(res.headers)).toMatch(/^cacao_session=v1\.[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=604800$/);
      const me = await client.get('/api/auth/me');
      expect(me.status).toBe(200);
      expect(me.body.user.id).toBe(res.body.user.id);
    });

    it('when the email is taken in another case, then 409 email_taken', async () => {
      const { user } = await buyer(app);
      const res = await app.client().post('/api/auth/register', {
        email: user.email.toUpperCase(),
        password: PASSWORD,
        name: 'Twin',
      });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('email_taken');
    });

    it('when fields are invalid, then 400 names each of them', async () => {
      const res = await app.client().post('/api/auth/register', {
        email: 'not-an-email',
        password: 'short',
        role: 'admin',
        extra: 1,
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(Object.keys(res.body.error.fields).sort()).toEqual(['email', 'extra', 'name', 'password', 'role']);
    });

    it('when someone asks to register as an admin, then it is refused', async () => {
      const res = await app.client().post('/api/auth/register', {
        email: `a${Date.now()}@test.example`,
        password: PASSWORD,
        name: 'Sneaky',
        role: 'admin',
      });
      expect(res.status).toBe(400);
      expect(res.body.error.fields.role).toBeDefined();
    });
  });

  describe('POST /api/auth/login', () => {
    it('when the password is right, then it sets a session cookie', async () => {
      const { user } = await buyer(app);
      const client = app.client();
      const res = await client.post('/api/auth/login', { email: user.email, password: PASSWORD });
      expect(res.status).toBe(200);
      expect(res.body.user.id).toBe(user.id);
      expect((await client.get('/api/auth/me')).body.user.email).toBe(user.email);
    });

    it('when the password is wrong or the email unknown, then the same 401 invalid_credentials', async () => {
      const { user } = await buyer(app);
      const wrong = await app.client().post('/api/auth/login', { email: user.email, password: 'nope-nope-nope' });
      const unknown = await app.client().post('/api/auth/login', { email: `nobody-${randomUUID()}@test.example`, password: PASSWORD });
      for (const res of [wrong, unknown]) {
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error: { code: 'invalid_credentials', message: 'The email or password is wrong.' } });
        expect(sessionCookie(res.headers)).toBeUndefined();
      }
    });

    itNeeds(
      ['own-throttle'],
      "when a client keeps guessing one account's password, then it is slowed with 429 and Retry-After, the same for an account that does not exist",
      async () => {
        const { user } = await buyer(app);
        const guess = (email: string, password = 'guess-guess-guess') => app.client().post('/api/auth/login', { email, password });
        const throttled: Awaited<ReturnType<typeof guess>>[] = [];
        // The default limit: five failures of one account are answered as usual, the sixth waits.
        for (const email of [user.email, `nobody-${Date.now()}@test.example`]) {
          for (let i = 0; i < 5; i++) expect((await guess(email)).status).toBe(401);
          throttled.push(await guess(email));
        }
        // Even the right password waits: the throttle answers before the password is checked.
        throttled.push(await guess(user.email, PASSWORD));
        for (const res of throttled) {
          expect(res.status).toBe(429);
          expect(res.body).toEqual({ error: { code: 'too_many_attempts', message: expect.stringMatching(/Retry-After/) } });
          expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
          expect(sessionCookie(res.headers)).toBeUndefined();
        }
        expect(throttled[1]!.body).toEqual(throttled[0]!.body);
      },
    );

    it('when the body is missing fields, then 400', async () => {
      const res = await app.client().post('/api/auth/login', {});
      expect(res.status).toBe(400);
      expect(res.body.error.fields).toEqual({ email: 'is required', password: 'is required' });
    });
  });

  describe('POST /api/auth/logout', () => {
    it('when logged in, then the session is revoked even if the old cookie is replayed', async () => {
      const { client } = await buyer(app);
      const stolen = client.cookie!;
      const res = await client.post('/api/auth/logout');
      expect(res.status).toBe(204);
      expect(client.cookie).toBeUndefined();
      const replay = await app.client().get('/api/auth/me', { cookie: stolen });
      expect(replay.status).toBe(401);
      expect(replay.body.error.code).toBe('unauthenticated');
    });

    it('when not logged in, then it still answers 204', async () => {
      expect((await app.client().post('/api/auth/logout')).status).toBe(204);
    });
  });

  describe('GET /api/auth/me', () => {
    it('when there is no session, then 401', async () => {
      const res = await app.client().get('/api/auth/me');
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthenticated');
    });

    it('when the token is forged or signed with another key, then 401', async () => {
      const { user, client } = await buyer(app);
      // The session the system issued, tampered with: no secret of the system's is needed.
      const valid = client.cookie!.slice('cacao_session='.length);
      const other = new SessionTokens(['another-secret-that-is-32-characters-long']).issue({ id: user.id, role: 'admin' }).token;
      const [head, payload, sig] = valid.split('.');
      const tampered = `${head}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), role: 'admin' })).toString('base64url')}.${sig}`;
      for (const token of [other, tampered, 'garbage', 'v1..']) {
        expect((await app.client().get('/api/auth/me', { cookie: `cacao_session=${token}` })).status).toBe(401);
      }
      expect((await app.client().get('/api/auth/me', { cookie: `cacao_session=${valid}` })).status).toBe(200);
    });

    itNeeds(['session-secret'], 'when the token has expired, then 401, though signed with the right key', async () => {
      const { user } = await buyer(app);
      const expired = new SessionTokens([SESSION_SECRET], 60).issue({ id: user.id, role: 'buyer' }, Date.now() - 3_600_000).token;
      const current = new SessionTokens([SESSION_SECRET]).issue({ id: user.id, role: 'buyer' }).token;
      expect((await app.client().get('/api/auth/me', { cookie: `cacao_session=${expired}` })).status).toBe(401);
      expect((await app.client().get('/api/auth/me', { cookie: `cacao_session=${current}` })).status).toBe(200);
    });
  });
});
