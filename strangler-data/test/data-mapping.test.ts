import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '@strangler/proxy/load-route-table';
import { DataMappingError, loadDataMapping, parseDataMapping } from '../src/load-data-mapping.ts';
import { columnsOn, keyOn, UnknownServiceError } from '../src/table-mapping.ts';
import { runCli } from '@strangler/stack/testing';
import { LIBRARY_MAPPING } from './support/library-databases.ts';

/** A small mapping of its own: a library with authors and their books, one column renamed, a text key. */
const LIBRARY = `version: 1
services:
  catalog:
    tables:
      - monolith: authors
        key: [{ name: id, type: bigint }]
        columns: [id, name]
      - monolith: books
        service: titles
        key: [{ name: isbn, type: text }]
        columns: [isbn, { monolith: writer_id, service: author_id }, title]
`;

/** The problems of `text`, as `line N: path: message` strings. */
function problems(text: string): string[] {
  try {
    parseDataMapping(text, 'mapping.yaml');
  } catch (err) {
    if (!(err instanceof DataMappingError)) throw err;
    return err.problems.map(formatProblem);
  }
  throw new Error('the mapping was accepted');
}

const tmpFile = (text: string): string => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mapping-')), 'data-mapping.yaml');
  fs.writeFileSync(file, text);
  return file;
};

describe('the data mapping file', () => {
  it('when a mapping is valid, then each service has its tables in file order, renamed columns and key types as written', () => {
    const m = parseDataMapping(LIBRARY);
    expect(m.services).toEqual(['catalog']);
    const [authors, books] = m.for('catalog').tables;
    expect(authors).toMatchObject({ monolith: 'authors', service: 'authors' });
    expect(books).toMatchObject({ monolith: 'books', service: 'titles' });
    expect(columnsOn(books!, 'monolith')).toEqual(['isbn', 'writer_id', 'title']);
    expect(columnsOn(books!, 'service')).toEqual(['isbn', 'author_id', 'title']);
    expect(keyOn(books!, 'service')).toEqual([{ name: 'isbn', type: 'text' }]);
  });

  it('when a service is not in the mapping, then the error names the services it has', () => {
    const m = parseDataMapping(LIBRARY);
    expect(() => m.for('payments')).toThrow(UnknownServiceError);
    expect(() => m.for('payments')).toThrow('no data mapping for service "payments"; known: catalog');
    // Not a property lookup: an inherited name is no service either.
    expect(() => m.for('constructor')).toThrow(UnknownServiceError);
  });

  it('when a field is unknown, then the problem names it at its line', () => {
    expect(problems(LIBRARY.replace('        columns: [id, name]', '        columns: [id, name]\n        colums: [x]'))).toEqual([
      'line 8: services.catalog.tables.0.colums: is not a known field; remove it or check its spelling',
    ]);
  });

  it('when a key column is not among the columns, then the problem says so at the key’s line', () => {
    expect(problems(LIBRARY.replace('[{ name: isbn, type: text }]', '[{ name: code, type: text }]'))).toEqual([
      `line 10: services.catalog.tables.1.key.0.name: key column "code" is not among the table's columns (by its monolith name); add it to columns`,
    ]);
  });

  it('when a name is not a plain SQL identifier, then the problem says what a name may hold, at its line', () => {
    expect(problems(LIBRARY.replace('service: author_id', 'service: "author id"'))).toEqual([
      'line 11: services.catalog.tables.1.columns.1.service: the service column must be a plain SQL identifier: lowercase letters, digits and _, not starting with a digit',
    ]);
    expect(problems(LIBRARY.replace('- monolith: authors', '- monolith: Authors'))[0]).toMatch(
      /^line 5: services\.catalog\.tables\.0\.monolith: /,
    );
  });

  it('when a table is mapped twice, in one service or by two, then each repeat is a problem at its line', () => {
    const twice = LIBRARY.replace(
      '      - monolith: books',
      '      - monolith: authors\n        key: [{ name: id, type: bigint }]\n        columns: [id]\n      - monolith: books',
    );
    expect(problems(twice)).toEqual([
      'line 8: services.catalog.tables.1.monolith: table "authors" is mapped twice (in this service)',
      'line 8: services.catalog.tables.1.service: service table "authors" is mapped twice in catalog',
    ]);
    const byTwo = `${LIBRARY}  loans:\n    tables:\n      - monolith: books\n        service: books\n        key: [{ name: isbn, type: text }]\n        columns: [isbn]\n`;
    expect(problems(byTwo)).toEqual(['line 14: services.loans.tables.0.monolith: table "books" is mapped twice (service catalog owns it)']);
  });

  it('when a column is listed twice on either side, or the YAML repeats a key, then the problem is at its line', () => {
    expect(problems(LIBRARY.replace('columns: [id, name]', 'columns: [id, name, { monolith: nom, service: name }]'))).toEqual([
      'line 7: services.catalog.tables.0.columns.2: service column "name" is listed twice',
    ]);
    expect(problems(LIBRARY.replace('  catalog:\n', '  catalog:\n    tables: []\n'))[0]).toMatch(/^line 5: YAML: Map keys must be unique/);
  });

  it('when the version is not 1 or there is no service, then each is a problem', () => {
    expect(problems('version: 2\nservices: {}\n')).toEqual([
      'line 1: version: must be 1 (the only data mapping format so far)',
      'line 2: services: must name at least one service',
    ]);
  });

  it('when the file cannot be read, then the error names the file and why', () => {
    expect(() => loadDataMapping('/nonexistent/data-mapping.yaml')).toThrow('/nonexistent/data-mapping.yaml: cannot read it (ENOENT)');
  });
});

describe('strangler data check-mapping, and --mapping / DATA_MAPPING', () => {
  it('when the file is valid, then check-mapping exits 0 naming its services; when not, exit 1 with each problem and its line', async () => {
    const two = tmpFile(
      `${LIBRARY}  members:\n    tables:\n      - monolith: members\n        key: [{ name: id, type: bigint }]\n        columns: [id, name]\n`,
    );
    const ok = await runCli(['data', 'check-mapping', two]);
    expect([ok.code, ok.out.trim()]).toEqual([0, `${two}: ok — 2 services (catalog, members), 3 tables`]);
    const file = tmpFile(LIBRARY.replace('[{ name: isbn, type: text }]', '[{ name: code, type: text }]'));
    const bad = await runCli(['data', 'check-mapping', file]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`${file}: line 10: services.catalog.tables.1.key.0.name: key column "code" is not among the table's columns`);
  });

  it('when the mapping names one service with one table, then check-mapping says "1 service", "1 table", not "1 services"', async () => {
    const one = tmpFile(
      `version: 1\nservices:\n  members:\n    tables:\n      - monolith: members\n        key: [{ name: id, type: bigint }]\n        columns: [id, name]\n`,
    );
    const ok = await runCli(['data', 'check-mapping', one]);
    expect([ok.code, ok.out.trim()]).toEqual([0, `${one}: ok — 1 service (members), 1 table`]);
  });

  it('when a data command has no mapping, or an invalid one, then it exits 2 saying what to give or what to fix', async () => {
    const none = await runCli(['data', 'status', 'catalog']);
    expect(none.code).toBe(2);
    expect(none.err).toContain('give --mapping FILE or set DATA_MAPPING');
    const file = tmpFile(LIBRARY.replace('version: 1', 'version: 3'));
    const invalid = await runCli(['data', 'status', 'catalog', '--mapping', file]);
    expect([invalid.code, invalid.err.trim()]).toEqual([2, `${file}: line 1: version: must be 1 (the only data mapping format so far)`]);
    // The flag wins over the environment: the flag's mapping has no catalog.
    const archive = tmpFile(LIBRARY.replace('  catalog:', '  archive:'));
    const other = await runCli(['data', 'status', 'catalog', '--mapping', archive], { DATA_MAPPING: LIBRARY_MAPPING });
    expect([other.code, other.err.trim()]).toEqual([2, 'no data mapping for service "catalog"; known: archive']);
  });
});
