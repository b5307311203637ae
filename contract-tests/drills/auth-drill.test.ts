import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drain, verify } from '@strangler/data';
import { buyer, HttpClient, PASSWORD } from '@strangler/stack/testing';
import { runDrill, summary } from '../src/drill.ts';
import { startSystem, type System } from '../src/system.ts';

let system: System;
beforeAll(async () => {
  system = await startSystem('monolith');
});
afterAll(() => system?.close());

describe('rollback drill: auth', () => {
  it('when 2 000 registrations run while the auth group flips monolith → service → monolith, then every user lands once on both sides and no session is lost', async () => {
    const before = await buyer({ url: system.url, db: system.writerDb('auth') });
    const registered = new Map<string, { id: number; cookie: string }>();
    const clients = Array.from({ length: 8 }, () => new HttpClient(system.url));
    const report = await runDrill({
      system,
      service: 'auth',
      writes: 2_000,
      concurrency: 8,
      switchAt: [600, 1_300],
      write: (w, seq) => {
        clients[w]!.cookie = undefined;
        return clients[w]!.post('/api/auth/register', { email: `drill-${seq}@test.example`, password: PASSWORD, name: `Drill ${seq}` });
      },
      onSuccess: (w, seq, res) => registered.set(`drill-${seq}@test.example`, { id: res.body.user.id, cookie: clients[w]!.cookie! }),
    });

    const data = system.data.auth;
    await drain(data);
    const verdicts = await verify(data);
    const sides = await Promise.all(
      [data.pools.monolith, data.pools.service].map(async (pool) => {
        const rows = (await pool.query(`SELECT id::int, lower(email) AS email FROM users WHERE email LIKE 'drill-%'`)).rows as {
          id: number;
          email: string;
        }[];
        const byEmail = new Map(rows.map((r) => [r.email, r.id]));
        return {
          lost: [...registered].filter(([email, u]) => byEmail.get(email) !== u.id).length,
          duplicated: rows.length - byEmail.size + rows.filter((r) => !registered.has(r.email)).length,
        };
      }),
    );
    console.log(summary(report, { monolith: sides[0], service: sides[1], checksumsEqual: verdicts.every((v) => v.equal) }));

    expect(report.failures, report.failures.join('\n')).toEqual([]);
    expect(report.writes).toBe(2_000);
    expect(report.switches.map((s) => [s.from, s.to, s.outcome])).toEqual([
      ['monolith', 'service', 'switched'],
      ['service', 'monolith', 'switched'],
    ]);
    expect(sides).toEqual([
      { lost: 0, duplicated: 0 },
      { lost: 0, duplicated: 0 },
    ]);
    expect(verdicts.filter((v) => !v.equal)).toEqual([]);

    // Nobody was logged out by the flips: a session from before them, and one the auth service
    // issued while it served, both still work on the monolith that serves /api/auth again.
    const fromService = [...registered.values()].find((u) => u.id >= 1_000_000_000)!;
    expect(fromService).toBeDefined();
    expect((await new HttpClient(system.url).get('/api/auth/me', { cookie: fromService.cookie })).body.user.id).toBe(fromService.id);
    expect((await before.client.get('/api/auth/me')).body.user.id).toBe(before.user.id);
    // And a user the service registered logs in on the monolith: the password hash came along.
    const email = [...registered].find(([, u]) => u.id === fromService.id)![0];
    expect((await new HttpClient(system.url).post('/api/auth/login', { email, password: PASSWORD })).status).toBe(200);
  }, 120_000);
});
