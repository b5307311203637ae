import pg from 'pg';
import { inTransaction } from '@strangler/service-kit/transaction';
import type { FieldDifference } from './compare-responses.ts';

/** The counters of shadow traffic, summed over a time range; one row per route and path template. */
export interface ShadowCounters {
  routes: RouteCounts[];
  fields: FieldCounts[];
  /** Which fields differed together in a sample: a sample matches once noise is cancelled unless one of them is reported. */
  signatures: SignatureCounts[];
  latency: LatencyCounts[];
}

export interface RouteCounts {
  route: string;
  template: string;
  /** Requests compared (service vs monolith), and how many matched exactly. */
  samples: number;
  matches: number;
  /** Answers that were a 5xx or no answer at all, per side. */
  monolithErrors: number;
  serviceErrors: number;
  /** Requests answered twice by the monolith, for noise. */
  noiseSamples: number;
  /** Samples (among `samples`) whose answers differed while the service's copy of the data was behind or ahead: neither matches nor mismatches (absent: 0). */
  stale?: number;
}

export interface FieldCounts {
  route: string;
  template: string;
  field: string;
  /** Samples where it differed service vs monolith, and monolith vs monolith. */
  diffs: number;
  noise: number;
}

export interface SignatureCounts {
  route: string;
  template: string;
  fields: string[];
  count: number;
}

export interface LatencyCounts {
  route: string;
  template: string;
  side: 'monolith' | 'service';
  /** Upper bound of the histogram bucket, ms. */
  leMs: number;
  count: number;
}

/** One stored example of a difference: the request, both answers and what differed, all redacted. */
export interface ShadowExample {
  id?: number;
  route: string;
  template: string;
  /** The field it illustrates. */
  field: string;
  at: string;
  request: { method: string; path: string; headers: Record<string, string> };
  monolith: { status: number; headers: Record<string, string>; body: string; ms: number };
  service: { status: number | null; headers: Record<string, string>; body: string; ms: number; error?: string };
  differences: FieldDifference[];
}

/** A row the store refused and left out: its table, and PostgreSQL's SQLSTATE for why. */
export interface DroppedRow {
  table: string;
  code: string;
}

/** Where shadow results live: PostgreSQL (database `strangler`, shared by every proxy) or this process's memory. */
export interface ShadowStore {
  readonly kind: 'postgres' | 'memory';
  /** Adds counters to the minute that `at` falls in; a row it cannot store is left out, and returned. */
  add(at: Date, delta: ShadowCounters): Promise<DroppedRow[]>;
  /** Adds examples, keeping the newest `keepPerField` per route and field; one it cannot store is left out, and returned. */
  addExamples(examples: ShadowExample[], keepPerField: number): Promise<DroppedRow[]>;
  counters(f: { route?: string; since?: Date }): Promise<ShadowCounters>;
  examples(f: { route: string; field?: string; limit?: number }): Promise<ShadowExample[]>;
  example(id: number): Promise<ShadowExample | undefined>;
  /** Forgets counters and examples older than `before`. */
  prune(before: Date): Promise<void>;
  close(): Promise<void>;
}

export const emptyCounters = (): ShadowCounters => ({ routes: [], fields: [], signatures: [], latency: [] });

const minute = (at: Date): number => Math.floor(at.getTime() / 60_000) * 60_000;

/** Counters keyed by each row's identity (everything but its counts), for adding up. */
export interface CounterMaps {
  routes: Map<string, RouteCounts>;
  fields: Map<string, FieldCounts>;
  signatures: Map<string, SignatureCounts>;
  latency: Map<string, LatencyCounts>;
}

export const newCounterMaps = (): CounterMaps => ({ routes: new Map(), fields: new Map(), signatures: new Map(), latency: new Map() });

export const routeKey = (route: string, template: string): string => `${route}\u0000${template}`;
export const fieldRowKey = (route: string, template: string, field: string): string => `${route}\u0000${template}\u0000${field}`;
export const signatureKey = (route: string, template: string, fields: readonly string[]): string =>
  `${route}\u0000${template}\u0000${fields.join('\u0001')}`;
export const latencyKey = (route: string, template: string, side: string, leMs: number): string =>
  `${route}\u0000${template}\u0000${side}\u0000${leMs}`;

/** Adds `delta` into `into`. */
export function addCounters(into: CounterMaps, delta: ShadowCounters): void {
  for (const r of delta.routes) {
    const t = into.routes.get(routeKey(r.route, r.template));
    if (!t) into.routes.set(routeKey(r.route, r.template), { ...r });
    else
      for (const c of ['samples', 'matches', 'monolithErrors', 'serviceErrors', 'noiseSamples', 'stale'] as const)
        t[c] = (t[c] ?? 0) + (r[c] ?? 0);
  }
  for (const f of delta.fields) {
    const t = into.fields.get(fieldRowKey(f.route, f.template, f.field));
    if (!t) into.fields.set(fieldRowKey(f.route, f.template, f.field), { ...f });
    else {
      t.diffs += f.diffs;
      t.noise += f.noise;
    }
  }
  for (const sg of delta.signatures) {
    const t = into.signatures.get(signatureKey(sg.route, sg.template, sg.fields));
    if (!t) into.signatures.set(signatureKey(sg.route, sg.template, sg.fields), { ...sg });
    else t.count += sg.count;
  }
  for (const l of delta.latency) {
    const t = into.latency.get(latencyKey(l.route, l.template, l.side, l.leMs));
    if (!t) into.latency.set(latencyKey(l.route, l.template, l.side, l.leMs), { ...l });
    else t.count += l.count;
  }
}

export const countersOf = (m: CounterMaps): ShadowCounters => ({
  routes: [...m.routes.values()],
  fields: [...m.fields.values()],
  signatures: [...m.signatures.values()],
  latency: [...m.latency.values()],
});

/** Counters in minute buckets and examples in this process: for a proxy without `STRANGLER_DATABASE_URL`. */
export class MemoryShadowStore implements ShadowStore {
  readonly kind = 'memory';
  readonly #buckets = new Map<number, CounterMaps>();
  readonly #examples: ShadowExample[] = [];
  #nextId = 1;

  async add(at: Date, delta: ShadowCounters): Promise<DroppedRow[]> {
    const b = minute(at);
    let maps = this.#buckets.get(b);
    if (!maps) this.#buckets.set(b, (maps = newCounterMaps()));
    addCounters(maps, delta);
    return [];
  }

  async addExamples(examples: ShadowExample[], keepPerField: number): Promise<DroppedRow[]> {
    for (const e of examples) {
      this.#examples.push({ ...e, id: this.#nextId++ });
      const same = this.#examples.filter((x) => x.route === e.route && x.field === e.field);
      if (same.length > keepPerField) this.#examples.splice(this.#examples.indexOf(same[0]!), 1);
    }
    return [];
  }

  async counters(f: { route?: string; since?: Date }): Promise<ShadowCounters> {
    const sum = newCounterMaps();
    const mine = <T extends { route: string }>(rows: T[]): T[] => (f.route ? rows.filter((r) => r.route === f.route) : rows);
    for (const [b, maps] of this.#buckets) {
      if (f.since && b < minute(f.since)) continue;
      const c = countersOf(maps);
      addCounters(sum, { routes: mine(c.routes), fields: mine(c.fields), signatures: mine(c.signatures), latency: mine(c.latency) });
    }
    return countersOf(sum);
  }

  async examples(f: { route: string; field?: string; limit?: number }): Promise<ShadowExample[]> {
    return this.#examples
      .filter((e) => e.route === f.route && (!f.field || e.field === f.field))
      .reverse()
      .slice(0, f.limit ?? 20);
  }

  async example(id: number): Promise<ShadowExample | undefined> {
    return this.#examples.find((e) => e.id === id);
  }

  async prune(before: Date): Promise<void> {
    for (const b of this.#buckets.keys()) if (b < minute(before)) this.#buckets.delete(b);
    const keep = this.#examples.filter((e) => Date.parse(e.at) >= before.getTime());
    this.#examples.splice(0, this.#examples.length, ...keep);
  }

  async close(): Promise<void> {}
}

/**
 * Whether PostgreSQL refused a row for what it holds (data exceptions, constraint violations, limits
 * such as the index row size: SQLSTATE classes 22, 23, 54), not because the database is away: such a
 * row would fail every retry.
 */
function isRowError(err: unknown): err is { code: string } {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS shadow_route_counts (
  bucket timestamptz NOT NULL, route text NOT NULL, template text NOT NULL,
  samples bigint NOT NULL, matches bigint NOT NULL, monolith_errors bigint NOT NULL, service_errors bigint NOT NULL, noise_samples bigint NOT NULL,
  PRIMARY KEY (bucket, route, template));
CREATE TABLE IF NOT EXISTS shadow_field_counts (
  bucket timestamptz NOT NULL, route text NOT NULL, template text NOT NULL, field text NOT NULL,
  diffs bigint NOT NULL, noise bigint NOT NULL,
  PRIMARY KEY (bucket, route, template, field));
CREATE TABLE IF NOT EXISTS shadow_signature_counts (
  bucket timestamptz NOT NULL, route text NOT NULL, template text NOT NULL, signature text NOT NULL, count bigint NOT NULL,
  PRIMARY KEY (bucket, route, template, signature));
CREATE TABLE IF NOT EXISTS shadow_latency_counts (
  bucket timestamptz NOT NULL, route text NOT NULL, template text NOT NULL, side text NOT NULL, le_ms real NOT NULL, count bigint NOT NULL,
  PRIMARY KEY (bucket, route, template, side, le_ms));
CREATE TABLE IF NOT EXISTS shadow_examples (
  id bigserial PRIMARY KEY, route text NOT NULL, template text NOT NULL, field text NOT NULL, at timestamptz NOT NULL,
  request jsonb NOT NULL, monolith jsonb NOT NULL, service jsonb NOT NULL, differences jsonb NOT NULL);
CREATE INDEX IF NOT EXISTS shadow_examples_route_field ON shadow_examples (route, field, id DESC);
ALTER TABLE shadow_route_counts ADD COLUMN IF NOT EXISTS stale bigint NOT NULL DEFAULT 0;`;

/**
 * Shadow results in PostgreSQL (database `strangler`): every proxy instance adds its counters, so a
 * report sums the whole fleet. Counters are per minute, so `--since` works to the minute.
 */
export class PostgresShadowStore implements ShadowStore {
  readonly kind = 'postgres';
  readonly #pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  static async open(url: string): Promise<PostgresShadowStore> {
    const pool = new pg.Pool({ connectionString: url, max: 4, application_name: 'strangler-proxy' });
    pool.on('error', () => {});
    try {
      await inTransaction(pool, async (client) => {
        await client.query(`SELECT pg_advisory_xact_lock(hashtext('strangler-shadow-schema'))`);
        await client.query(SCHEMA);
      });
    } catch (err) {
      await pool.end();
      throw err;
    }
    return new PostgresShadowStore(pool);
  }

  async add(at: Date, delta: ShadowCounters): Promise<DroppedRow[]> {
    const bucket = new Date(minute(at));
    const insert = async (client: pg.PoolClient, d: ShadowCounters): Promise<void> => {
      if (d.routes.length) {
        await client.query(
          `INSERT INTO shadow_route_counts (bucket, route, template, samples, matches, monolith_errors, service_errors, noise_samples, stale)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
           ON CONFLICT (bucket, route, template) DO UPDATE SET samples = shadow_route_counts.samples + EXCLUDED.samples, matches = shadow_route_counts.matches + EXCLUDED.matches,
             monolith_errors = shadow_route_counts.monolith_errors + EXCLUDED.monolith_errors, service_errors = shadow_route_counts.service_errors + EXCLUDED.service_errors,
             noise_samples = shadow_route_counts.noise_samples + EXCLUDED.noise_samples, stale = shadow_route_counts.stale + EXCLUDED.stale`,
          [
            bucket,
            ...(['route', 'template', 'samples', 'matches', 'monolithErrors', 'serviceErrors', 'noiseSamples', 'stale'] as const).map((c) =>
              d.routes.map((r) => r[c] ?? 0),
            ),
          ],
        );
      }
      if (d.fields.length) {
        await client.query(
          `INSERT INTO shadow_field_counts SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
           ON CONFLICT (bucket, route, template, field) DO UPDATE SET diffs = shadow_field_counts.diffs + EXCLUDED.diffs, noise = shadow_field_counts.noise + EXCLUDED.noise`,
          [bucket, ...(['route', 'template', 'field', 'diffs', 'noise'] as const).map((c) => d.fields.map((r) => r[c]))],
        );
      }
      if (d.signatures.length) {
        await client.query(
          `INSERT INTO shadow_signature_counts SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[])
           ON CONFLICT (bucket, route, template, signature) DO UPDATE SET count = shadow_signature_counts.count + EXCLUDED.count`,
          [
            bucket,
            d.signatures.map((s) => s.route),
            d.signatures.map((s) => s.template),
            d.signatures.map((s) => JSON.stringify(s.fields)),
            d.signatures.map((s) => s.count),
          ],
        );
      }
      if (d.latency.length) {
        await client.query(
          `INSERT INTO shadow_latency_counts SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::real[], $6::bigint[])
           ON CONFLICT (bucket, route, template, side, le_ms) DO UPDATE SET count = shadow_latency_counts.count + EXCLUDED.count`,
          [bucket, ...(['route', 'template', 'side', 'leMs', 'count'] as const).map((c) => d.latency.map((r) => r[c]))],
        );
      }
    };
    try {
      await inTransaction(this.#pool, (client) => insert(client, delta));
      return [];
    } catch (err) {
      if (!isRowError(err)) throw err;
    }
    // One row spoils the batch (a key too long to index, a byte PostgreSQL refuses): each row on its
    // own then, behind a savepoint, those that fail left out. One transaction still, so that a lost
    // connection stores nothing and the recorder's retry counts nothing twice.
    return inTransaction(this.#pool, async (client) => {
      const dropped: DroppedRow[] = [];
      const none = emptyCounters();
      const rows = [
        ...delta.routes.map((r) => ({ table: 'shadow_route_counts', one: { ...none, routes: [r] } })),
        ...delta.fields.map((f) => ({ table: 'shadow_field_counts', one: { ...none, fields: [f] } })),
        ...delta.signatures.map((s) => ({ table: 'shadow_signature_counts', one: { ...none, signatures: [s] } })),
        ...delta.latency.map((l) => ({ table: 'shadow_latency_counts', one: { ...none, latency: [l] } })),
      ];
      for (const { table, one } of rows) {
        await client.query('SAVEPOINT shadow_row');
        try {
          await insert(client, one);
          await client.query('RELEASE SAVEPOINT shadow_row');
        } catch (err) {
          if (!isRowError(err)) throw err;
          await client.query('ROLLBACK TO SAVEPOINT shadow_row');
          dropped.push({ table, code: err.code });
        }
      }
      return dropped;
    });
  }

  async addExamples(examples: ShadowExample[], keepPerField: number): Promise<DroppedRow[]> {
    const dropped: DroppedRow[] = [];
    for (const e of examples) {
      try {
        await this.#pool.query(
          `INSERT INTO shadow_examples (route, template, field, at, request, monolith, service, differences) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            e.route,
            e.template,
            e.field,
            e.at,
            JSON.stringify(e.request),
            JSON.stringify(e.monolith),
            JSON.stringify(e.service),
            JSON.stringify(e.differences),
          ],
        );
      } catch (err) {
        if (!isRowError(err)) throw err;
        dropped.push({ table: 'shadow_examples', code: err.code });
        continue;
      }
      await this.#pool.query(
        `DELETE FROM shadow_examples WHERE route = $1 AND field = $2 AND id NOT IN (SELECT id FROM shadow_examples WHERE route = $1 AND field = $2 ORDER BY id DESC LIMIT $3)`,
        [e.route, e.field, keepPerField],
      );
    }
    return dropped;
  }

  async counters(f: { route?: string; since?: Date }): Promise<ShadowCounters> {
    const where = `WHERE ($1::text IS NULL OR route = $1) AND ($2::timestamptz IS NULL OR bucket >= date_trunc('minute', $2::timestamptz))`;
    const args = [f.route ?? null, f.since ?? null];
    const [routes, fields, signatures, latency] = await Promise.all([
      this.#pool.query(
        `SELECT route, template, sum(samples)::float8 AS samples, sum(matches)::float8 AS matches, sum(monolith_errors)::float8 AS "monolithErrors",
           sum(service_errors)::float8 AS "serviceErrors", sum(noise_samples)::float8 AS "noiseSamples", sum(stale)::float8 AS stale FROM shadow_route_counts ${where} GROUP BY 1, 2`,
        args,
      ),
      this.#pool.query(
        `SELECT route, template, field, sum(diffs)::float8 AS diffs, sum(noise)::float8 AS noise FROM shadow_field_counts ${where} GROUP BY 1, 2, 3`,
        args,
      ),
      this.#pool.query(
        `SELECT route, template, signature, sum(count)::float8 AS count FROM shadow_signature_counts ${where} GROUP BY 1, 2, 3`,
        args,
      ),
      this.#pool.query(
        `SELECT route, template, side, le_ms::float8 AS "leMs", sum(count)::float8 AS count FROM shadow_latency_counts ${where} GROUP BY 1, 2, 3, 4`,
        args,
      ),
    ]);
    return {
      routes: routes.rows,
      fields: fields.rows,
      signatures: signatures.rows.map((r: { route: string; template: string; signature: string; count: number }) => ({
        route: r.route,
        template: r.template,
        fields: JSON.parse(r.signature) as string[],
        count: r.count,
      })),
      latency: latency.rows,
    };
  }

  async examples(f: { route: string; field?: string; limit?: number }): Promise<ShadowExample[]> {
    const { rows } = await this.#pool.query(
      `SELECT id::int, route, template, field, at::text, request, monolith, service, differences FROM shadow_examples
       WHERE route = $1 AND ($2::text IS NULL OR field = $2) ORDER BY id DESC LIMIT $3`,
      [f.route, f.field ?? null, f.limit ?? 20],
    );
    return rows;
  }

  async example(id: number): Promise<ShadowExample | undefined> {
    const { rows } = await this.#pool.query(
      `SELECT id::int, route, template, field, at::text, request, monolith, service, differences FROM shadow_examples WHERE id = $1`,
      [id],
    );
    return rows[0];
  }

  async prune(before: Date): Promise<void> {
    for (const table of ['shadow_route_counts', 'shadow_field_counts', 'shadow_signature_counts', 'shadow_latency_counts']) {
      await this.#pool.query(`DELETE FROM ${table} WHERE bucket < $1`, [before]);
    }
    await this.#pool.query('DELETE FROM shadow_examples WHERE at < $1', [before]);
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
