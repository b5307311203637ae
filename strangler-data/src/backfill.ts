import { prepareSync, type ServiceData } from './replicate.ts';
import { keyOf, rowsAfter, upsertRows, type Key } from './row-transfer.ts';
import { inCopyTransaction } from './transaction.ts';
import { markBackfilled } from './sync-state.ts';
import { ident, tableOn } from './table-mapping.ts';

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

const PROGRESS = `CREATE TABLE IF NOT EXISTS strangler_backfill_progress (
  table_name text PRIMARY KEY,
  last_key   text[] NOT NULL,
  copied     bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now())`;

export class BackfillRefusedError extends Error {
  override readonly name = 'BackfillRefusedError';
}

/**
 * Copies the rows a service owns from the monolith's database into the service's, table by table
 * in key order, in batches. Change capture is installed first, so whatever changes while the copy
 * runs is captured and applied afterwards by the replicator. Each batch is upserted together with
 * its checkpoint in one transaction of the target, so an interrupted backfill resumes where it
 * stopped and a re-run copies nothing twice. Refused once the service is the writer: its rows are
 * then newer than the monolith's, and a copy would overwrite them.
 */
export async function backfill(
  data: ServiceData,
  opts: { batchSize?: number; maxBatches?: number; restart?: boolean; onProgress?: (p: BackfillProgress) => void } = {},
): Promise<BackfillResult> {
  const { service: target, monolith: source } = data.pools;
  const state = await prepareSync(data);
  if (state.writer !== 'monolith') {
    throw new BackfillRefusedError(
      `${data.mapping.service} is the writer of its rows now: a backfill would overwrite newer rows with the monolith's; switch the writer back first`,
    );
  }
  const batchSize = opts.batchSize ?? 500;
  let batchesLeft = opts.maxBatches ?? Infinity;
  await target.query(PROGRESS);
  if (opts.restart)
    await target.query('DELETE FROM strangler_backfill_progress WHERE table_name = ANY($1)', [
      data.mapping.tables.map((t) => tableOn(t, 'service')),
    ]);
  const tables: BackfillResult['tables'] = [];
  for (const t of data.mapping.tables) {
    const name = tableOn(t, 'service');
    const started = performance.now();
    const total = Number((await source.query(`SELECT count(*) AS n FROM ${ident(tableOn(t, 'monolith'))}`)).rows[0].n);
    const checkpoint = (
      await target.query<{ last_key: string[]; copied: string }>(
        'SELECT last_key, copied FROM strangler_backfill_progress WHERE table_name = $1',
        [name],
      )
    ).rows[0];
    let lastKey: Key | undefined = checkpoint?.last_key;
    let copied = checkpoint ? Number(checkpoint.copied) : 0;
    for (;;) {
      if (batchesLeft <= 0) return { tables, complete: false };
      const rows = await rowsAfter(source, t, 'monolith', lastKey, batchSize);
      if (!rows.length) break;
      lastKey = keyOf(t, rows.at(-1)!);
      copied += rows.length;
      const key = lastKey;
      await inCopyTransaction(target, async (client) => {
        await upsertRows(client, t, 'service', rows);
        await client.query(
          `INSERT INTO strangler_backfill_progress (table_name, last_key, copied) VALUES ($1, $2, $3)
           ON CONFLICT (table_name) DO UPDATE SET last_key = EXCLUDED.last_key, copied = EXCLUDED.copied, updated_at = now()`,
          [name, key, copied],
        );
      });
      batchesLeft--;
      opts.onProgress?.({ table: name, copied: Math.min(copied, total), total });
    }
    tables.push({ table: name, copied, total, ms: performance.now() - started });
  }
  await markBackfilled(target, data.mapping.service);
  return { tables, complete: true };
}
