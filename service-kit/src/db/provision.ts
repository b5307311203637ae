// `node service-kit/src/db/provision.ts`: an app's database and role on a shared PostgreSQL server,
// made or brought up to date before the app starts (the init container of each ECS task runs it).
// ADMIN_DATABASE_URL (+ ADMIN_DATABASE_PASSWORD): a role that may create roles and databases.
// DATABASE_NAME, DATABASE_USER, DATABASE_PASSWORD: what to make. Idempotent; passwords never printed.
import pg from 'pg';
import { ConfigError, envReader } from '../config/env.ts';
import { withPassword } from '../config/secret-url.ts';

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface ProvisionRequest {
  adminUrl: string;
  database: string;
  user: string;
  password: string;
}

/**
 * Creates the role (or sets its password) and the database it owns, unless they exist. Safe to run
 * from several tasks at once: an advisory lock serialises them, and a creation that loses a race
 * is not an error.
 */
export async function provision(r: ProvisionRequest): Promise<{ createdRole: boolean; createdDatabase: boolean }> {
  for (const [what, v] of [
    ['DATABASE_NAME', r.database],
    ['DATABASE_USER', r.user],
  ] as const) {
    if (!NAME.test(v)) throw new ConfigError(`${what} must be lowercase letters, digits and _, starting with a letter or _ (got "${v}")`);
  }
  const client = new pg.Client({ connectionString: r.adminUrl });
  await client.connect();
  try {
    await client.query(`SELECT pg_advisory_lock(hashtext('strangler-provision'))`);
    const role = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [r.user]);
    // DDL takes no parameters: the statement is built by the server itself, quoting both safely.
    const { rows } = await client.query<{ sql: string }>(
      `SELECT format('%s ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text, $3::text) AS sql`,
      [role.rowCount ? 'ALTER' : 'CREATE', r.user, r.password],
    );
    await client.query(rows[0]!.sql);
    const db = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [r.database]);
    if (!db.rowCount) {
      // The creating role must be able to act as the owner (PostgreSQL 16+ grants it to the role's creator).
      await client.query(`GRANT "${r.user}" TO CURRENT_USER`).catch(() => {});
      await client.query(`CREATE DATABASE "${r.database}" OWNER "${r.user}"`);
    }
    return { createdRole: !role.rowCount, createdDatabase: !db.rowCount };
  } finally {
    await client.query(`SELECT pg_advisory_unlock(hashtext('strangler-provision'))`).catch(() => {});
    await client.end();
  }
}

if (import.meta.main) {
  try {
    const e = envReader(process.env);
    const result = await provision({
      adminUrl: withPassword(
        e.required('ADMIN_DATABASE_URL', 'a PostgreSQL URL of a role that may create roles and databases'),
        e.optional('ADMIN_DATABASE_PASSWORD'),
      ),
      database: e.required('DATABASE_NAME', "the app's database"),
      user: e.required('DATABASE_USER', "the app's role"),
      password: e.required('DATABASE_PASSWORD', "the app's role's password"),
    });
    console.log(
      `database ${process.env.DATABASE_NAME}: ${result.createdDatabase ? 'created' : 'exists'}; role ${process.env.DATABASE_USER}: ${result.createdRole ? 'created' : 'password set'}`,
    );
  } catch (err) {
    console.error(`provision: ${err instanceof ConfigError ? err.message : `the server refused: ${(err as Error).message}`}`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
}
