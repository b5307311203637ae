import type pg from 'pg';
import { ident, type ServiceDataMapping, type TableMapping } from './table-mapping.ts';

export interface BackfillProgress {
  table: string;
  copied: number;
  total: number;
}

export interface BackfillResult {
  tables: { table: string; copied: number; total: number; ms: number }[];
  /** False when stopped early (`maxBatches`); run again to resume from the checkpoint. */
  complete: boolean;
}

const CHECKPOINTS = `CREATE TABLE IF NOT EXISTS strangler_backfill_checkpoints (
  table_name text PRIMARY KEY,
  last_key   bigint NOT NULL,
  copied     bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now())`;

/**
 * Copies the rows a service owns from the monolith's database into the service's, table by table
 * in key order, in batches. Each batch is upserted together with its checkpoint in one transaction
 * of the target, so an interrupted backfill resumes where it stopped and a re-run copies nothing
 * twice (rows already there are overwritten with the monolith's current values).
 */
export async function backfill(
  source: pg.Pool,
  target: pg.Pool,
  mapping: ServiceDataMapping,
  opts: { batchSize?: number; maxBatches?: number; onProgress?: (p: BackfillProgress) => void } = {},
): Promise<BackfillResult> {
  const batchSize = opts.batchSize ?? 500;
  let batchesLeft = opts.maxBatches ?? Infinity;
  await target.query(CHECKPOINTS);
  const tables: BackfillResult['tables'] = [];
  for (const t of mapping.tables) {
    const started = performance.now();
    const total = Number((await source.query(`SELECT count(*) AS n FROM ${ident(t.source)}`)).rows[0].n);
    const checkpoint = (await target.query('SELECT last_key, copied FROM strangler_backfill_checkpoints WHERE table_name = $1', [t.target])).rows[0];
    let lastKey = checkpoint ? Number(checkpoint.last_key) : 0;
    let copied = checkpoint ? Number(checkpoint.copied) : 0;
    for (;;) {
      if (batchesLeft <= 0) return { tables, complete: false };
      // Order by the table's own key column: the select list's alias of the same name is text.
      const key = `${ident(t.source)}.${ident(t.key)}`;
      const rows = (await source.query(`SELECT ${selectList(t)} FROM ${ident(t.source)} WHERE ${key} > $1 ORDER BY ${key} LIMIT $2`, [lastKey, batchSize])).rows;
      if (!rows.length) break;
      lastKey = Number(rows.at(-1)[t.key]);
      copied += rows.length;
      await upsertBatch(target, t, rows, lastKey, copied);
      batchesLeft--;
      opts.onProgress?.({ table: t.target, copied: Math.min(copied, total), total });
    }
    tables.push({ table: t.target, copied, total, ms: performance.now() - started });
  }
  return { tables, complete: true };
}

/**
 * Every column as text: values travel between the databases in PostgreSQL's own text form, never
 * through JavaScript types (a DATE read as a JS Date could shift by the process's time zone).
 */
function selectList(t: TableMapping): string {
  return t.columns.map(([src]) => `${ident(src)}::text AS ${ident(src)}`).join(', ');
}

async function upsertBatch(target: pg.Pool, t: TableMapping, rows: Record<string, unknown>[], lastKey: number, copied: number): Promise<void> {
  const targetCols = t.columns.map(([, dst]) => ident(dst));
  const values: unknown[] = [];
  const tuples = rows.map((row) => `(${t.columns.map(([src]) => `$${values.push(row[src])}`).join(', ')})`);
  const updates = t.columns.filter(([, dst]) => dst !== t.key).map(([, dst]) => `${ident(dst)} = EXCLUDED.${ident(dst)}`);
  const client = await target.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO ${ident(t.target)} (${targetCols.join(', ')}) OVERRIDING SYSTEM VALUE VALUES ${tuples.join(', ')}
       ON CONFLICT (${ident(t.key)}) DO UPDATE SET ${updates.join(', ')}`,
      values,
    );
    await client.query(
      `INSERT INTO strangler_backfill_checkpoints (table_name, last_key, copied) VALUES ($1, $2, $3)
       ON CONFLICT (table_name) DO UPDATE SET last_key = EXCLUDED.last_key, copied = EXCLUDED.copied, updated_at = now()`,
      [t.target, lastKey, copied],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
