import type { QueryResultRow } from 'pg';
import type { Queryable } from './database.ts';

/** A list query assembled from parts: WHERE conditions refer to `values` as $1, $2, … */
export interface PagedQuery {
  select: string;
  from: string;
  where: string[];
  values: unknown[];
  orderBy: string;
  limit: number;
  offset: number;
}

/** One page of rows and the total count of rows matching, before paging. */
export async function pagedQuery<T extends QueryResultRow>(db: Queryable, q: PagedQuery): Promise<{ items: T[]; total: number }> {
  const where = whereClause(q);
  const n = q.values.length;
  const [page, count] = await Promise.all([
    db.query<T>(`SELECT ${q.select} FROM ${q.from} ${where} ORDER BY ${q.orderBy} LIMIT $${n + 1} OFFSET $${n + 2}`, [
      ...q.values,
      q.limit,
      q.offset,
    ]),
    countRows(db, q, where),
  ]);
  return { items: page.rows, total: count };
}

const whereClause = (q: PagedQuery): string => (q.where.length ? `WHERE ${q.where.join(' AND ')}` : '');

async function countRows(db: Queryable, q: PagedQuery, where: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*) AS n FROM ${q.from} ${where}`, q.values);
  return rows[0]?.n ?? 0;
}

/** The column carrying the total: a name no selected column of an API row takes. */
const TOTAL = '__paged_total';

/** A list query whose page and total come back in one statement; `key` (a unique column) defers the columns. */
export interface OneTripPagedQuery extends PagedQuery {
  /**
   * A unique column of a row (`l.id`): when given, the page's keys are chosen (filtered, sorted,
   * counted, cut) first and `select` is computed for the page's rows only. PostgreSQL otherwise
   * builds every selected column (JSON, to_char) of every matching row before the sort and the
   * LIMIT keep a page of them, unless it judges the columns expensive.
   */
  key?: string;
}

/**
 * `pagedQuery`'s answer in one round trip: the rows and `count(*) OVER ()` in one statement, on one
 * snapshot. A page past the end has no row to carry the total, so only then (offset > 0) a second
 * statement counts. The services use it; the monolith keeps `pagedQuery`.
 */
export async function pagedQueryOneTrip<T extends QueryResultRow>(
  db: Queryable,
  q: OneTripPagedQuery,
): Promise<{ items: T[]; total: number }> {
  const where = whereClause(q);
  const n = q.values.length;
  const page = `ORDER BY ${q.orderBy} LIMIT $${n + 1} OFFSET $${n + 2}`;
  const text = q.key
    ? `SELECT ${q.select}, page.total AS "${TOTAL}" FROM ${q.from}
       JOIN (SELECT ${q.key} AS key, count(*) OVER () AS total FROM ${q.from} ${where} ${page}) page ON page.key = ${q.key}
       ORDER BY ${q.orderBy}`
    : `SELECT ${q.select}, count(*) OVER () AS "${TOTAL}" FROM ${q.from} ${where} ${page}`;
  const { rows } = await db.query<T & { [TOTAL]: number }>(text, [...q.values, q.limit, q.offset]);
  if (!rows.length) {
    return { items: [], total: q.offset === 0 ? 0 : await countRows(db, q, where) };
  }
  const total = rows[0]![TOTAL];
  for (const row of rows) delete (row as Partial<Record<typeof TOTAL, number>>)[TOTAL];
  return { items: rows, total };
}
