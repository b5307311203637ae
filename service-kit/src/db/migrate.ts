import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Database } from './database.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** The versioned SQL files of a folder: `NNN_description.sql`, in order of NNN, without gaps. */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const m = /^(\d{3})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new Error(`migration file "${file}" must be named NNN_description.sql`);
    const sql = await fs.readFile(path.join(dir, file), 'utf8');
    migrations.push({ version: Number(m[1]), name: m[2]!, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new Error(`migration versions must run 001, 002, … without gaps; found ${m.version} at position ${i + 1}`);
  });
  return migrations;
}

// Any constant works; it only has to be the same for every process migrating this database.
const MIGRATION_LOCK_KEY = 0x6d6f6e6f;

/**
 * Applies the migrations not yet applied, all in one transaction (all or none), under an advisory
 * lock so that two processes starting together do not race. Refuses to run when an applied
 * migration's file has changed since: history is append-only.
 */
export async function migrate(db: Database, migrations: string | Migration[]): Promise<{ applied: string[] }> {
  const all = typeof migrations === 'string' ? await loadMigrations(migrations) : migrations;
  return db.withTransaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await tx.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations');
    const done = new Map(rows.map((r) => [r.version, r.checksum]));
    const applied: string[] = [];
    for (const m of all) {
      const checksum = done.get(m.version);
      if (checksum !== undefined) {
        if (checksum !== m.checksum) {
          throw new Error(`migration ${m.version}_${m.name} was changed after it was applied; add a new migration instead`);
        }
        continue;
      }
      await tx.query(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
      applied.push(`${String(m.version).padStart(3, '0')}_${m.name}`);
    }
    return { applied };
  });
}
