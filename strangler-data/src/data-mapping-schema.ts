import { z } from 'zod';

/** A plain SQL identifier: what the toolkit quotes into its statements without escaping. */
const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const ident = (what: string) =>
  z
    .string({ error: `${what} must be a name` })
    .regex(IDENT, `${what} must be a plain SQL identifier: lowercase letters, digits and _, not starting with a digit`);

/** A service name: also the `<SERVICE>_DATABASE_URL` variable's prefix and the name its sync state is kept under. */
export const SERVICE_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** A column kept under one name on both sides (`email`), or renamed (`{ monolith: writer_id, service: author_id }`). */
const ColumnSchema = z.union([
  ident('a column'),
  z.strictObject({ monolith: ident('the monolith column'), service: ident('the service column') }),
]);

const KeyColumnSchema = z.strictObject({
  /** The key column's monolith-side name; it must be among the table's columns. */
  name: ident('a key column'),
  /** The SQL type its text form is cast back to. */
  type: z.enum(['bigint', 'text'], { error: 'must be bigint or text' }),
});

const TableSchema = z.strictObject({
  /** The table in the monolith's database. */
  monolith: ident('the monolith table'),
  /** The table in the service's database (default: the monolith's name). */
  service: ident('the service table').optional(),
  /** The primary key, by monolith column name: the same values on both sides. */
  key: z.array(KeyColumnSchema).min(1, 'must name at least one key column'),
  /** Every column copied, the key columns among them. */
  columns: z.array(ColumnSchema).min(1, 'must name at least one column'),
});

const ServiceSchema = z.strictObject({
  /** The tables the service owns, in dependency order: parents first (they are copied in this order). */
  tables: z.array(TableSchema).min(1, 'must name at least one table'),
});

/** `data-mapping.yaml`: which monolith tables each extracted service owns, column by column. */
export const DataMappingSchema = z.strictObject({
  version: z.literal(1, { error: 'must be 1 (the only data mapping format so far)' }),
  services: z
    .record(z.string().regex(SERVICE_NAME, 'a service name must be lowercase letters, digits and _, starting with a letter'), ServiceSchema)
    .refine((s) => Object.keys(s).length > 0, 'must name at least one service'),
});

export type DataMappingSource = z.infer<typeof DataMappingSchema>;
