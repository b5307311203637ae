import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { startAuthService } from '@strangler/auth';
import { startMonolith } from '@strangler/monolith';
import { createLogger, DEFAULT_LOGIN_THROTTLE, DRY_RUN_HEADER, type LoginThrottleConfig, type RunningApp } from '@strangler/service-kit';
import { createScratchDatabase, type ScratchDatabase } from '@strangler/stack';
import { HttpClient, PASSWORD, type TestResponse } from '@strangler/stack/testing';
import type {} from '@strangler/stack/testing/provided-context';
import { describeNeeds } from '../../src/contract-targets.ts';

// The monolith and the auth service side by side on one Redis, as during the migration, with low
// limits so that few scrypt runs show each rule. Requests go to the apps directly, carrying the
// X-Forwarded-For the strangler proxy would append (its last entry is the client).
const SECRET = 'throttle-test-secret-of-at-least-32-characters';
const THROTTLE: LoginThrottleConfig = {
  ...DEFAULT_LOGIN_THROTTLE,
  accountFailures: 2,
  clientFailures: 3,
  firstWaitSeconds: 2,
  maxWaitSeconds: 60,
  windowSeconds: 60,
  keyPrefix: `test:${randomUUID()}:`,
};
const WRONG = 'wrong-wrong-wrong';

let next = 0;
/** An address of its own for each use, so the client limit of one test never meets another's. */
const freshClient = (): string => `198.51.100.${++next}`;
const freshEmail = (): string => `nobody-${randomUUID()}@test.example`;

function login(
  app: RunningApp,
  email: string,
  password: string,
  client: string,
  headers: Record<string, string> = {},
): Promise<TestResponse> {
  return new HttpClient(app.url).post('/api/auth/login', { email, password }, { 'x-forwarded-for': client, ...headers });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const scratches: ScratchDatabase[] = [];
const apps: RunningApp[] = [];

async function start(kind: 'monolith' | 'auth', redisUrl: string, log = createLogger(kind, 'silent')): Promise<RunningApp> {
  const scratch = await createScratchDatabase(inject('pgServerUrl'), `throttle_${kind}`);
  scratches.push(scratch);
  const common = {
    databaseUrl: scratch.url,
    port: 0,
    host: '127.0.0.1',
    sessionSecrets: [SECRET],
    shutdownGraceMs: 1000,
    logLevel: 'silent',
    redisUrl,
    loginThrottle: THROTTLE,
    secureCookies: false,
  };
  const app =
    kind === 'monolith'
      ? await startMonolith({ ...common, seedWhenEmpty: false, apiBaseUrl: undefined }, log)
      : await startAuthService(common, log);
  apps.push(app);
  return app;
}

async function register(app: RunningApp): Promise<string> {
  const email = `user-${randomUUID()}@test.example`;
  expect((await new HttpClient(app.url).post('/api/auth/register', { email, password: PASSWORD, name: 'Guessed' })).status).toBe(201);
  return email;
}

let monolith: RunningApp;
let service: RunningApp;
beforeAll(async () => {
  monolith = await start('monolith', inject('redisUrl'));
  service = await start('auth', inject('redisUrl'));
});
afterAll(async () => {
  for (const a of apps) await a.close();
  for (const s of scratches) await s.drop();
});

describeNeeds(['own-system'], 'login throttling over HTTP', () => {
  it('when one account keeps failing from many clients, then it gets 429 with a Retry-After that counts down, and even the right password waits until then', async () => {
    const email = await register(monolith);
    for (let i = 0; i < 2; i++) expect((await login(monolith, email, WRONG, freshClient())).status).toBe(401);
    const first = await login(monolith, email, WRONG, freshClient());
    expect(first.status).toBe(429);
    expect(first.body.error.code).toBe('too_many_attempts');
    expect(first.headers.get('retry-after')).toBe('2');
    const right = await login(monolith, email, PASSWORD, freshClient());
    expect(right.status).toBe(429);
    await sleep(1100);
    const later = await login(monolith, email, PASSWORD, freshClient());
    expect(later.status).toBe(429);
    expect(later.headers.get('retry-after')).toBe('1');
    await sleep(1000);
    expect((await login(monolith, email, PASSWORD, freshClient())).status).toBe(200);
  });

  it("when a login succeeds, then the account's failures are forgotten", async () => {
    const email = await register(service);
    const client = freshClient();
    expect((await login(service, email, WRONG, client)).status).toBe(401);
    expect((await login(service, email, PASSWORD, client)).status).toBe(200);
    // Without the reset this would be the account's second failure, and the next attempt would wait.
    expect((await login(service, email, WRONG, client)).status).toBe(401);
    expect((await login(service, email, WRONG, freshClient())).status).toBe(401);
    expect((await login(service, email, WRONG, freshClient())).status).toBe(429);
  });

  it('when one client fails on many accounts, then it waits on any account, whatever it puts before the proxy’s entry, and other clients do not', async () => {
    const client = freshClient();
    for (let i = 0; i < 3; i++) expect((await login(monolith, freshEmail(), WRONG, `10.0.0.${i}, ${client}`)).status).toBe(401);
    const spoofed = await login(monolith, freshEmail(), WRONG, `10.9.9.9, ${client}`);
    expect(spoofed.status).toBe(429);
    expect(Number(spoofed.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // The other side counts the same client, through Redis.
    expect((await login(service, freshEmail(), PASSWORD, client)).status).toBe(429);
    expect((await login(monolith, freshEmail(), WRONG, `${client}, ${freshClient()}`)).status).toBe(401);
  });

  it('when a guesser alternates between the monolith and the auth service, then both count together through Redis', async () => {
    const email = freshEmail();
    expect((await login(monolith, email, WRONG, freshClient())).status).toBe(401);
    expect((await login(service, email, WRONG, freshClient())).status).toBe(401);
    for (const app of [monolith, service]) {
      const res = await login(app, email, WRONG, freshClient());
      expect(res.status).toBe(429);
      expect(res.body).toEqual({
        error: {
          code: 'too_many_attempts',
          message: 'Too many failed logins; try again once the Retry-After delay (in seconds) has passed.',
        },
      });
    }
  });

  it('when a mirrored login (dry run) fails, then it answers as usual and is not counted', async () => {
    const email = freshEmail();
    const client = freshClient();
    for (let i = 0; i < 3; i++) expect((await login(service, email, WRONG, client, { [DRY_RUN_HEADER]: '1' })).status).toBe(401);
    expect((await login(service, email, WRONG, client)).status).toBe(401);
    expect((await login(service, email, WRONG, client)).status).toBe(401);
    expect((await login(service, email, WRONG, client, { [DRY_RUN_HEADER]: '1' })).status).toBe(429);
  });
});

describeNeeds(['own-system'], 'login throttling when Redis cannot be reached', () => {
  const lines: { level: number; msg: string; redisErrors?: number }[] = [];
  let down: RunningApp;
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    down = await start('auth', 'redis://127.0.0.1:1', pino({ level: 'info' }, sink));
  });

  it('when Redis is down, then logins still answer (fail open), are throttled per process, and the outage is logged once and counted', async () => {
    const email = await register(down);
    const client = freshClient();
    const started = Date.now();
    expect((await login(down, email, WRONG, client)).status).toBe(401);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await login(down, email, PASSWORD, client)).status).toBe(200);
    const other = freshEmail();
    const meanwhile = Date.now();
    for (let i = 0; i < 2; i++) expect((await login(down, other, WRONG, client)).status).toBe(401);
    expect((await login(down, other, WRONG, client)).status).toBe(429);
    // Redis is not asked again on every login of the outage, so they take no timeout each.
    expect(Date.now() - meanwhile).toBeLessThan(1500);
    expect(down.loginThrottle.redisErrors).toBeGreaterThanOrEqual(1);
    const warnings = lines.filter((l) => l.msg.includes('Redis unreachable'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.level).toBe(40);
  });
});
