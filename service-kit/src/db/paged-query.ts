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
  const where = q.where.length ? `WHERE ${q.where.join(' AND ')}` : '';
  const n = q.values.length;
  const [page, count] = await Promise.all([
    db.query<T>(`SELECT ${q.select} FROM ${q.from} ${where} ORDER BY ${q.orderBy} LIMIT $${n + 1} OFFSET $${n + 2}`, [
      ...q.values,
      q.limit,
      q.offset,
    ]),
    db.query<{ n: number }>(`SELECT count(*) AS n FROM ${q.from} ${where}`, q.values),
  ]);
  return { items: page.rows, total: count.rows[0]?.n ?? 0 };
}
