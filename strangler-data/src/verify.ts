import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { ServiceData } from './replicate.ts';
import { showKey } from './row-transfer.ts';
import { columnsOn, ident, keyOn, tableOn, type Side, type TableMapping } from './table-mapping.ts';

export interface TableVerdict {
  table: string;
  monolithRows: number;
  serviceRows: number;
  monolithChecksum: string;
  serviceChecksum: string;
  /** Keys only in the monolith, only in the service, or whose rows differ (at most 20 of each). */
  missingInService: string[];
  onlyInService: string[];
  different: string[];
  equal: boolean;
}

const SAMPLE = 20;

/** Per-key row hashes of the mapped columns, in a text form both databases produce alike. */
async function rowHashes(pool: pg.Pool, t: TableMapping, side: Side): Promise<Map<string, string>> {
  const cols = columnsOn(t, side).map(ident).join(', ');
  const key = keyOn(t, side).map((k) => ident(k.name));
  const client = await pool.connect();
  try {
    // Timestamps print in the session's zone: the same zone on both sides, or equal rows differ.
    await client.query(`SET TIME ZONE 'UTC'`);
    const { rows } = await client.query<{ k: string[]; h: string }>(
      `SELECT ARRAY[${key.map((k) => `${k}::text`).join(', ')}] AS k, md5(json_build_array(${cols})::text) AS h FROM ${ident(tableOn(t, side))}`,
    );
    return new Map(rows.map((r) => [showKey(r.k), r.h]));
  } finally {
    client.release();
  }
}

/**
 * Row counts and checksums per table on both sides, and the keys that differ. Equal checksums mean
 * every mapped column of every row is equal: nothing lost, nothing duplicated, nothing stale.
 */
export async function verify(data: ServiceData): Promise<TableVerdict[]> {
  const verdicts: TableVerdict[] = [];
  for (const t of data.mapping.tables) {
    const [a, b] = await Promise.all([rowHashes(data.pools.monolith, t, 'monolith'), rowHashes(data.pools.service, t, 'service')]);
    // Sorted here, not by the servers: two servers may collate text keys differently.
    const checksum = (m: Map<string, string>): string => {
      const hash = createHash('sha256');
      for (const [k, h] of [...m].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) hash.update(`${k}:${h}\n`);
      return hash.digest('hex').slice(0, 16);
    };
    const byKey = (x: string, y: string): number => x.localeCompare(y, 'en', { numeric: true });
    const missingInService = [...a.keys()].filter((k) => !b.has(k)).sort(byKey);
    const onlyInService = [...b.keys()].filter((k) => !a.has(k)).sort(byKey);
    const different = [...a]
      .filter(([k, h]) => b.has(k) && b.get(k) !== h)
      .map(([k]) => k)
      .sort(byKey);
    verdicts.push({
      table: tableOn(t, 'service'),
      monolithRows: a.size,
      serviceRows: b.size,
      monolithChecksum: checksum(a),
      serviceChecksum: checksum(b),
      missingInService: missingInService.slice(0, SAMPLE),
      onlyInService: onlyInService.slice(0, SAMPLE),
      different: different.slice(0, SAMPLE),
      equal: !missingInService.length && !onlyInService.length && !different.length,
    });
  }
  return verdicts;
}
