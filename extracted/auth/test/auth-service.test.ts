import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createLogger, DEFAULT_LOGIN_THROTTLE, DRY_RUN_HEADER, SessionTokens } from '@strangler/service-kit';
import { createScratchDatabase, type ScratchDatabase } from '@strangler/stack';
import { HttpClient, PASSWORD } from '@strangler/stack/testing';
import type {} from '@strangler/stack/testing/provided-context';
import { startAuthService } from '../src/auth-service.ts';
import { loadConfig } from '../src/config.ts';

const SECRET = 'auth-test-secret-of-at-least-32-characters';
const DRY = { [DRY_RUN_HEADER]: '1' };
let scratch: ScratchDatabase;
let svc: Awaited<ReturnType<typeof startAuthService>>;
beforeAll(async () => {
  scratch = await createScratchDatabase(inject('pgServerUrl'), 'auth_test');
  svc = await startAuthService(
    {
      databaseUrl: scratch.url,
      port: 0,
      host: '127.0.0.1',
      sessionSecrets: [SECRET],
      shutdownGraceMs: 1000,
      logLevel: 'silent',
      redisUrl: undefined,
      secureCookies: false,
    },
    createLogger('auth', 'silent'),
  );
});
afterAll(async () => {
  await svc?.close();
  await scratch?.drop();
});

describe('the auth service', () => {
  it('when a user registers, then their id is from the service range and the session is one the monolith accepts (same keys)', async () => {
    const client = new HttpClient(svc.url);
    const res = await client.post('/api/auth/register', { email: 'svc@test.example', password: PASSWORD, name: 'Svc' });
    expect(res.status).toBe(201);
    expect(res.body.user.id).toBeGreaterThanOrEqual(1_000_000_000);
    const token = decodeURIComponent(/cacao_session=([^;]+)/.exec(client.cookie!)![1]!);
    expect(new SessionTokens([SECRET]).verify(token)).toMatchObject({ sub: res.body.user.id, role: 'buyer' });
  });

  it('when a register is a dry run, then it answers as usual and keeps no user', async () => {
    const res = await new HttpClient(svc.url).post(
      '/api/auth/register',
      { email: 'dry@test.example', password: PASSWORD, name: 'Dry' },
      DRY,
    );
    expect(res.status).toBe(201);
    expect(res.body.user.email).toBe('dry@test.example');
    expect((await svc.db.query(`SELECT 1 FROM users WHERE email = 'dry@test.example'`)).rowCount).toBe(0);
  });

  it('when a logout is a dry run, then the session stays valid', async () => {
    const client = new HttpClient(svc.url);
    await client.post('/api/auth/register', { email: 'stays@test.example', password: PASSWORD, name: 'Stays' });
    const cookie = client.cookie!;
    expect((await client.post('/api/auth/logout', undefined, DRY)).status).toBe(204);
    expect((await new HttpClient(svc.url).get('/api/auth/me', { cookie })).status).toBe(200);
  });

  it('when its environment lacks DATABASE_URL or a long enough SESSION_SECRET, then the error names the variable', () => {
    expect(() => loadConfig({ SESSION_SECRET: SECRET })).toThrow(/DATABASE_URL is required: the PostgreSQL URL of the auth database/);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x/auth', SESSION_SECRET: 'short' })).toThrow(/SESSION_SECRET/);
    expect(loadConfig({ DATABASE_URL: 'postgres://x/auth', SESSION_SECRET: SECRET }).port).toBe(3101);
  });

  it('when the login throttle is configured, then its settings are read, the defaults fill the rest, and a bad value names its variable', () => {
    const base = { DATABASE_URL: 'postgres://x/auth', SESSION_SECRET: SECRET };
    expect(loadConfig(base).loginThrottle).toEqual(DEFAULT_LOGIN_THROTTLE);
    expect(
      loadConfig({ ...base, LOGIN_THROTTLE_ACCOUNT_FAILURES: '3', FORWARDED_FOR_HOPS: '3', LOGIN_THROTTLE_MAX_WAIT_SECONDS: '60' })
        .loginThrottle,
    ).toMatchObject({
      accountFailures: 3,
      forwardedForHops: 3,
      maxWaitSeconds: 60,
      clientFailures: 20,
    });
    expect(() => loadConfig({ ...base, LOGIN_THROTTLE_CLIENT_FAILURES: '0' })).toThrow(
      /LOGIN_THROTTLE_CLIENT_FAILURES must be a whole number from 1/,
    );
    expect(() => loadConfig({ ...base, LOGIN_THROTTLE_FIRST_WAIT_SECONDS: '120', LOGIN_THROTTLE_MAX_WAIT_SECONDS: '60' })).toThrow(
      /LOGIN_THROTTLE_FIRST_WAIT_SECONDS \(120\) must not exceed/,
    );
  });
});
