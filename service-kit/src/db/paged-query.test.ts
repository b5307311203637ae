import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase, type Database } from './database.ts';
import { pagedQuery, pagedQueryOneTrip, type PagedQuery } from './paged-query.ts';

// The run's PostgreSQL, from the global setup in stack/ (which depends on this package, so its
// declaration of the provided context cannot be imported here).
declare module 'vitest' {
  export interface ProvidedContext {
    pgServerUrl: string;
  }
}

const server = inject('pgServerUrl');
const database = `paged_${Math.random().toString(36).slice(2, 8)}`;
const url = (() => {
  const u = new URL(server);
  u.pathname = `/${database}`;
  return u.toString();
})();

async function asAdmin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: server });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

let db: Database;

beforeAll(async () => {
  await asAdmin(`CREATE DATABASE "${database}"`);
  db = createDatabase({ connectionString: url, applicationName: 'paged-query-test' });
  // 57 items over 5 shelves; many share a price, so the sorts tie and only the id breaks the tie.
  await db.query(`CREATE TABLE shelves (id int PRIMARY KEY, name text NOT NULL)`);
  await db.query(
    `CREATE TABLE items (id int PRIMARY KEY, shelf_id int NOT NULL REFERENCES shelves (id), price int NOT NULL, label text NOT NULL)`,
  );
  await db.query(`INSERT INTO shelves SELECT s, 'shelf ' || s FROM generate_series(1, 5) s`);
  await db.query(`INSERT INTO items SELECT i, 1 + i % 5, 100 * (i % 4), 'item ' || i FROM generate_series(1, 57) i`);
});
afterAll(async () => {
  await db?.close();
  await asAdmin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
});

const SELECT = `i.id, i.price, json_build_object('id', s.id, 'name', s.name) AS shelf, upper(i.label) AS label`;
const FROM = 'items i JOIN shelves s ON s.id = i.shelf_id';

/** A list query as the apps build one: `where` over `values`, ordered, paged. */
function listQuery(o: { minPrice?: number; shelf?: number; desc?: boolean; limit: number; offset: number }): PagedQuery {
  const where: string[] = [];
  const values: unknown[] = [];
  if (o.minPrice !== undefined) where.push(`i.price >= $${values.push(o.minPrice)}`);
  if (o.shelf !== undefined) where.push(`s.id = $${values.push(o.shelf)}`);
  return {
    select: SELECT,
    from: FROM,
    where,
    values,
    orderBy: o.desc ? 'i.price DESC, i.id DESC' : 'i.price ASC, i.id ASC',
    limit: o.limit,
    offset: o.offset,
  };
}

describe('pagedQueryOneTrip (a page and its total in one statement)', () => {
  const cases = [
    { name: 'first page, no filter', q: { limit: 10, offset: 0 } },
    { name: 'a middle page, prices tied', q: { limit: 10, offset: 20 } },
    { name: 'the last, partial page', q: { limit: 10, offset: 50 } },
    { name: 'a page ending exactly at the end', q: { limit: 19, offset: 38 } },
    { name: 'filtered, descending', q: { minPrice: 200, desc: true, limit: 7, offset: 7 } },
    { name: 'filtered on the joined table', q: { shelf: 3, limit: 4, offset: 8 } },
    { name: 'an empty page past the end', q: { limit: 10, offset: 60 } },
    { name: 'a filtered empty page past the end', q: { minPrice: 300, shelf: 2, limit: 5, offset: 100 } },
    { name: 'nothing matches, first page', q: { minPrice: 1_000, limit: 10, offset: 0 } },
    { name: 'nothing matches, a later page', q: { minPrice: 1_000, limit: 10, offset: 30 } },
  ];

  it.each(cases.flatMap((c) => [undefined, 'i.id'].map((key) => [`${c.name}${key ? ', keyed' : ''}`, c.q, key] as const)))(
    'when %s, then the rows and the total are those of the two-statement pagedQuery',
    async (_name, o, key) => {
      const q = listQuery(o);
      const expected = await pagedQuery(db, q);
      const actual = await pagedQueryOneTrip(db, { ...q, ...(key ? { key } : {}) });
      expect(actual).toEqual(expected);
    },
  );

  it('when a page is past the end, then its total is still the number of matching rows', async () => {
    expect(await pagedQueryOneTrip(db, { ...listQuery({ limit: 10, offset: 500 }), key: 'i.id' })).toEqual({ items: [], total: 57 });
    // Prices 200 and 300: i % 4 in {2, 3}; 28 of 1..57.
    expect(await pagedQueryOneTrip(db, listQuery({ minPrice: 200, limit: 10, offset: 28 }))).toEqual({ items: [], total: 28 });
    expect(await pagedQueryOneTrip(db, listQuery({ minPrice: 200, limit: 10, offset: 27 }))).toMatchObject({ total: 28 });
  });

  it('when the sort key ties across page boundaries, then the pages together are every row once, in order', async () => {
    const seen: number[] = [];
    for (let offset = 0; offset < 57; offset += 8) {
      const { items, total } = await pagedQueryOneTrip<{ id: number }>(db, { ...listQuery({ desc: true, limit: 8, offset }), key: 'i.id' });
      expect(total).toBe(57);
      seen.push(...items.map((r) => r.id));
    }
    const { rows } = await db.query<{ id: number }>('SELECT id FROM items ORDER BY price DESC, id DESC');
    expect(seen).toEqual(rows.map((r) => r.id));
  });

  it('when rows come back, then they carry the selected columns only (no total column)', async () => {
    const { items } = await pagedQueryOneTrip<Record<string, unknown>>(db, { ...listQuery({ limit: 3, offset: 0 }), key: 'i.id' });
    expect(items.map((r) => Object.keys(r))).toEqual([0, 1, 2].map(() => ['id', 'price', 'shelf', 'label']));
    expect(items[0]).toEqual({ id: 4, price: 0, shelf: { id: 5, name: 'shelf 5' }, label: 'ITEM 4' });
  });
});

describe('named statements (createDatabase namedStatements)', () => {
  /** The statements prepared by name on the pool's one connection. */
  const prepared = async (d: Database): Promise<string[]> =>
    (await d.query<{ statement: string }>(`SELECT statement FROM pg_prepared_statements WHERE name <> '' ORDER BY prepare_time`, [])).rows
      .map((r) => r.statement)
      .filter((s) => !s.includes('pg_prepared_statements'));

  it('when a parameterized text is run twice, then it is prepared once by name on the connection and answers as unnamed', async () => {
    const named = createDatabase({ connectionString: url, applicationName: 'paged-query-test', max: 1, namedStatements: 10 });
    try {
      const text = 'SELECT label FROM items WHERE id = $1';
      expect((await named.query(text, [5])).rows).toEqual([{ label: 'item 5' }]);
      expect((await named.query(text, [6])).rows).toEqual([{ label: 'item 6' }]);
      expect(await prepared(named)).toEqual([text]);
      // In a transaction too, and statements without parameters (BEGIN, COMMIT) stay unnamed.
      await named.withTransaction((tx) => tx.query('SELECT count(*)::int AS n FROM items WHERE price = $1', [100]));
      expect(await prepared(named)).toEqual([text, 'SELECT count(*)::int AS n FROM items WHERE price = $1']);
    } finally {
      await named.close();
    }
  });

  it('when more distinct texts come than the budget, then the rest run unnamed and still answer', async () => {
    const named = createDatabase({ connectionString: url, applicationName: 'paged-query-test', max: 1, namedStatements: 2 });
    try {
      const texts = [1, 2, 3, 4].map((n) => `SELECT id FROM items WHERE id = $1 AND ${n} = ${n}`);
      for (const t of texts) expect((await named.query(t, [7])).rows).toEqual([{ id: 7 }]);
      for (const t of texts) expect((await named.query(t, [8])).rows).toEqual([{ id: 8 }]);
      expect(await prepared(named)).toEqual(texts.slice(0, 2));
    } finally {
      await named.close();
    }
  });

  it('when no budget is given, then nothing is prepared by name', async () => {
    const plain = createDatabase({ connectionString: url, applicationName: 'paged-query-test', max: 1 });
    try {
      await plain.query('SELECT label FROM items WHERE id = $1', [5]);
      expect(await prepared(plain)).toEqual([]);
    } finally {
      await plain.close();
    }
  });

  it('when a one-trip page runs on named statements, then it answers as on unnamed ones', async () => {
    const named = createDatabase({ connectionString: url, applicationName: 'paged-query-test', max: 1, namedStatements: 10 });
    try {
      for (const o of [
        { limit: 10, offset: 20 },
        { shelf: 1, limit: 5, offset: 0 },
        { limit: 10, offset: 90 },
      ]) {
        const q = { ...listQuery(o), key: 'i.id' };
        expect(await pagedQueryOneTrip(named, q)).toEqual(await pagedQuery(db, q));
        expect(await pagedQueryOneTrip(named, q)).toEqual(await pagedQuery(db, q));
      }
    } finally {
      await named.close();
    }
  });
});
