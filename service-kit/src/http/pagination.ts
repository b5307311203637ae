import { z } from 'zod';

/** Query fields every list endpoint takes: `page` from 1, `pageSize` 1–100 (default 20). */
export const PageQuery = {
  page: z.coerce
    .number({ error: 'must be a whole number from 1' })
    .int('must be a whole number from 1')
    .min(1, 'must be a whole number from 1')
    .max(100_000, 'must be at most 100000')
    .default(1),
  pageSize: z.coerce
    .number({ error: 'must be a whole number from 1 to 100' })
    .int('must be a whole number from 1 to 100')
    .min(1, 'must be a whole number from 1 to 100')
    .max(100, 'must be a whole number from 1 to 100')
    .default(20),
};

/** The envelope of every list response. */
export interface Page<T> {
  items: T[];
  page: number;
  pageSize: number;
  total: number;
  totalPages: number;
}

export function toPage<T>(items: T[], total: number, page: number, pageSize: number): Page<T> {
  return { items, page, pageSize, total, totalPages: Math.ceil(total / pageSize) };
}

/** SQL LIMIT/OFFSET values for a page. */
export function limitOffset(page: number, pageSize: number): [number, number] {
  return [pageSize, (page - 1) * pageSize];
}
