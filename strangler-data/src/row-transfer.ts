import type pg from 'pg';
import { columnsOn, ident, keyOn, tableOn, type Side, type TableMapping } from './table-mapping.ts';

/**
 * A row in transit: every mapped column in PostgreSQL's own text form, in mapping order. Values
 * never pass through JavaScript types (a DATE read as a JS Date could shift by the process's time
 * zone; a numeric could lose digits), so what arrives is exactly what left.
 */
export type TextRow = (string | null)[];
/** A key: the text form of each key column, in key order. */
export type Key = string[];

/** A key as people write it: `7`, or `(order:7, 12)` for a composite key. */
export const showKey = (parts: readonly string[]): string => (parts.length === 1 ? parts[0]! : `(${parts.join(', ')})`);

/** `"a"::text, "b"::text, …` for the table's mapped columns on one side. */
export function textColumns(t: TableMapping, side: Side, alias?: string): string {
  return columnsOn(t, side)
    .map((c) => `${alias ? `${alias}.` : ''}${ident(c)}::text`)
    .join(', ');
}

/** The key's position among the mapped columns, so a TextRow's key can be read off it. */
export function keyIndexes(t: TableMapping): number[] {
  return t.key.map((k) => t.columns.findIndex((c) => c[0] === k.name));
}

export const keyOf = (t: TableMapping, row: TextRow): Key => keyIndexes(t).map((i) => row[i]!);

/** `unnest($1::text[], $2::text[]) … AS k(k0, k1, i)`: a batch of keys as a relation, with its order. */
function keysRelation(t: TableMapping, firstParam: number): string {
  const arrays = t.key.map((_, i) => `$${firstParam + i}::text[]`).join(', ');
  const names = t.key.map((_, i) => `k${i}`).join(', ');
  return `unnest(${arrays}) WITH ORDINALITY AS k(${names}, i)`;
}

/** `t.k0 = k.k0::bigint AND …`: the key columns compared in their own types, so indexes are used. */
function keyJoin(t: TableMapping, side: Side, alias: string): string {
  return keyOn(t, side)
    .map((k, i) => `${alias}.${ident(k.name)} = k.k${i}::${k.type}`)
    .join(' AND ');
}

/** The keys as one text array per key column (the parameters of `keysRelation`). */
const keyParams = (t: TableMapping, keys: readonly Key[]): string[][] => t.key.map((_, i) => keys.map((k) => k[i]!));

/**
 * The current rows for `keys` on one side; keys without a row (deleted since) come back in `absent`,
 * and `presentKeys[i]` is the key asked for that found `present[i]`. Read in one statement, so every
 * row is at least as new as the moment the keys were read.
 */
export async function fetchRows(
  db: pg.Pool | pg.PoolClient,
  t: TableMapping,
  side: Side,
  keys: readonly Key[],
): Promise<{ present: TextRow[]; presentKeys: Key[]; absent: Key[] }> {
  const first = keyOn(t, side)[0]!.name;
  const { rows } = await db.query<unknown[]>({
    text: `SELECT r.${ident(first)} IS NOT NULL, ${textColumns(t, side, 'r')} FROM ${keysRelation(t, 1)}
           LEFT JOIN ${ident(tableOn(t, side))} r ON ${keyJoin(t, side, 'r')} ORDER BY k.i`,
    values: keyParams(t, keys),
    rowMode: 'array',
  });
  const present: TextRow[] = [];
  const presentKeys: Key[] = [];
  const absent: Key[] = [];
  rows.forEach((r, i) => {
    if (r[0]) {
      present.push(r.slice(1) as TextRow);
      presentKeys.push(keys[i]!);
    } else absent.push(keys[i]!);
  });
  return { present, presentKeys, absent };
}

/** Inserts the rows, or overwrites the ones whose key exists: applying the same rows twice changes nothing. */
export async function upsertRows(client: pg.PoolClient, t: TableMapping, side: Side, rows: readonly TextRow[]): Promise<void> {
  if (!rows.length) return;
  const cols = columnsOn(t, side);
  const keyCols = new Set(keyOn(t, side).map((k) => k.name));
  const values: unknown[] = [];
  const tuples = rows.map((row) => `(${row.map((v) => `$${values.push(v)}`).join(', ')})`);
  const updates = cols.filter((c) => !keyCols.has(c)).map((c) => `${ident(c)} = EXCLUDED.${ident(c)}`);
  await client.query(
    `INSERT INTO ${ident(tableOn(t, side))} (${cols.map(ident).join(', ')}) OVERRIDING SYSTEM VALUE VALUES ${tuples.join(', ')}
     ON CONFLICT (${[...keyCols].map(ident).join(', ')}) ${updates.length ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING'}`,
    values,
  );
}

export async function deleteKeys(client: pg.PoolClient, t: TableMapping, side: Side, keys: readonly Key[]): Promise<void> {
  if (!keys.length) return;
  await client.query(
    `DELETE FROM ${ident(tableOn(t, side))} r USING ${keysRelation(t, 1)} WHERE ${keyJoin(t, side, 'r')}`,
    keyParams(t, keys),
  );
}

/** Rows after `after` (exclusive) in key order, for walking a whole table in batches. */
export async function rowsAfter(db: pg.Pool, t: TableMapping, side: Side, after: Key | undefined, limit: number): Promise<TextRow[]> {
  const key = keyOn(t, side);
  const tuple = `(${key.map((k) => `r.${ident(k.name)}`).join(', ')})`;
  const values: unknown[] = [];
  const where = after ? `WHERE ${tuple} > (${key.map((k, i) => `$${values.push(after[i])}::${k.type}`).join(', ')})` : '';
  const { rows } = await db.query<TextRow>({
    text: `SELECT ${textColumns(t, side, 'r')} FROM ${ident(tableOn(t, side))} r ${where} ORDER BY ${key.map((k) => `r.${ident(k.name)}`).join(', ')} LIMIT $${values.push(limit)}`,
    values,
    rowMode: 'array',
  });
  return rows;
}
