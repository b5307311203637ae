import path from 'node:path';
import { inject } from 'vitest';
import { createScratchDatabase } from '@strangler/stack';
import type {} from '@strangler/stack/testing/provided-context';
import { loadDataMapping } from '../../src/load-data-mapping.ts';
import { openSides, type ServiceDatabases } from './service-databases.ts';

/** The library's mapping file: the toolkit's tests' own schema, no app's. */
export const LIBRARY_MAPPING = path.join(import.meta.dirname, 'library-mapping.yaml');

const MONOLITH_SCHEMA = `
  CREATE TABLE authors (id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE);
  CREATE TABLE books (isbn text PRIMARY KEY, writer_id bigint NOT NULL REFERENCES authors (id), title text NOT NULL);`;
const SERVICE_SCHEMA = `
  CREATE TABLE authors (id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE);
  CREATE TABLE titles (isbn text PRIMARY KEY, author_id bigint NOT NULL REFERENCES authors (id), title text NOT NULL);`;
/** A few authors with books each: what the monolith holds before the catalogue moves. */
const SEED = `
  INSERT INTO authors (id, name, email) SELECT n, 'Author ' || n, 'author' || n || '@library.test' FROM generate_series(1, 20) n;
  INSERT INTO books (isbn, writer_id, title)
    SELECT '978-' || lpad(n::text, 6, '0'), 1 + n % 20, 'Book ' || n FROM generate_series(1, 60) n;`;

/** A seeded library monolith database and an empty catalog service database, mapped by library-mapping.yaml. */
export async function libraryDatabases(opts: { seed?: boolean } = {}): Promise<ServiceDatabases> {
  const server = inject('pgServerUrl');
  const [m, s] = [await createScratchDatabase(server, 'library_monolith'), await createScratchDatabase(server, 'library_catalog')];
  const sides = openSides(m, s, loadDataMapping(LIBRARY_MAPPING).for('catalog'));
  await sides.pools.monolith.query(MONOLITH_SCHEMA + (opts.seed === false ? '' : SEED));
  await sides.pools.service.query(SERVICE_SCHEMA);
  return sides;
}
