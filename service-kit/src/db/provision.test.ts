import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { withPassword } from '../config/secret-url.ts';
import { provision } from './provision.ts';

// The run's PostgreSQL, from the global setup in stack/ (which depends on this package, so its
// declaration of the provided context cannot be imported here).
declare module 'vitest' {
  export interface ProvidedContext {
    pgServerUrl: string;
  }
}

const server = inject('pgServerUrl');
const suffix = Math.random().toString(36).slice(2, 8);
const [database, user] = [`prov_db_${suffix}`, `prov_role_${suffix}`];

async function asAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: server });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

afterAll(() =>
  asAdmin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS "${user}"`);
  }),
);

describe('provision (an app’s database and role, before it starts)', () => {
  it('when run, then the role exists with a password and owns the database; run again, it only sets the password', async () => {
    expect(await provision({ adminUrl: server, database, user, password: "first 'quoted' pass" })).toEqual({
      createdRole: true,
      createdDatabase: true,
    });
    const [owner, hash] = await asAdmin(async (c) => [
      (await c.query('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [database])).rows[0].owner,
      (await c.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [user])).rows[0].rolpassword,
    ]);
    expect(owner).toBe(user);
    expect(hash).toMatch(/^SCRAM-SHA-256\$/);
    expect(await provision({ adminUrl: server, database, user, password: 'second' })).toEqual({
      createdRole: false,
      createdDatabase: false,
    });
    const after = await asAdmin(
      async (c) => (await c.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [user])).rows[0].rolpassword,
    );
    expect(after).not.toBe(hash);
  });

  it('when a name is not a plain identifier, then it refuses before touching the server; from the CLI, exit 2 naming the variable, no password printed', async () => {
    await expect(provision({ adminUrl: 'postgres://nowhere.invalid/x', database: 'x; DROP', user, password: 'p' })).rejects.toThrow(
      /DATABASE_NAME must be lowercase letters/,
    );
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [path.resolve(import.meta.dirname, 'provision.ts')], {
          env: { PATH: process.env.PATH ?? '', ...env },
        });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('exit', (code) => resolve({ code, out }));
      });
    const missing = await run({ ADMIN_DATABASE_URL: server, DATABASE_NAME: database, DATABASE_USER: user });
    expect([missing.code, missing.out.trim()]).toEqual([2, "provision: DATABASE_PASSWORD is required: the app's role's password"]);
    const ok = await run({
      ADMIN_DATABASE_URL: server,
      DATABASE_NAME: database,
      DATABASE_USER: user,
      DATABASE_PASSWORD: 'very-secret-password-1',
    });
    expect([ok.code, ok.out.trim()]).toEqual([0, `database ${database}: exists; role ${user}: password set`]);
    expect(ok.out).not.toContain('very-secret-password-1');
  });

  it('when a URL and its password come apart, then they are joined; a URL with a password keeps it', () => {
    expect(withPassword('postgres://app@db.internal:5432/auth?sslmode=no-verify', 's3cr:t/')).toBe(
      'postgres://app:s3cr%3At%2F@db.internal:5432/auth?sslmode=no-verify',
    );
    expect(withPassword('rediss://cache.internal:6379', 'tok')).toBe('rediss://:tok@cache.internal:6379');
    expect(withPassword('postgres://a:keep@h/d', 'other')).toBe('postgres://a:keep@h/d');
    expect(withPassword('postgres://a@h/d', undefined)).toBe('postgres://a@h/d');
  });
});
