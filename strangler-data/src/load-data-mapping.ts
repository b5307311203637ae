import fs from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { formatProblem, locate, zodProblems, type ConfigProblem } from '@strangler/proxy/load-route-table';
import { DataMappingSchema } from './data-mapping-schema.ts';
import { DataMappings, type ServiceDataMapping, type TableMapping } from './table-mapping.ts';

/** A data mapping file that cannot be used: every problem, each with its line. */
export class DataMappingError extends Error {
  override readonly name = 'DataMappingError';
  readonly problems: ConfigProblem[];
  constructor(file: string, problems: ConfigProblem[]) {
    super(`${file}: ${problems.length === 1 ? '' : `${problems.length} problems\n`}${problems.map(formatProblem).join('\n')}`);
    this.problems = problems;
  }
}

/** Reads and validates a data mapping file (`data-mapping.yaml`), or throws a DataMappingError naming every problem with its line. */
export function loadDataMapping(file: string): DataMappings {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new DataMappingError(file, [
      { path: '', message: `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` },
    ]);
  }
  return parseDataMapping(text, file);
}

/** Validates data mapping text; `file` only names it in the error. */
export function parseDataMapping(text: string, file = 'data mapping'): DataMappings {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    throw new DataMappingError(
      file,
      doc.errors.map((e) => ({ line: lineCounter.linePos(e.pos[0]).line, path: '', message: `YAML: ${e.message.split('\n')[0]}` })),
    );
  }
  const lineOf = (path: (string | number)[]): number | undefined => locate(doc, lineCounter, path);
  const result = DataMappingSchema.safeParse(doc.toJS());
  if (!result.success) throw new DataMappingError(file, zodProblems(result.error, lineOf));

  const problems: ConfigProblem[] = [];
  const problem = (path: (string | number)[], message: string): void => {
    problems.push({ line: lineOf(path), path: path.join('.'), message });
  };
  // A monolith table has one owner: two services copying it would each overwrite the other's writes.
  const owners = new Map<string, string>();
  const mappings: ServiceDataMapping[] = Object.entries(result.data.services).map(([service, spec]) => {
    const serviceTables = new Set<string>();
    const tables = spec.tables.map((t, i): TableMapping => {
      const at = ['services', service, 'tables', i];
      const serviceTable = t.service ?? t.monolith;
      const owner = owners.get(t.monolith);
      if (owner !== undefined)
        problem(
          [...at, 'monolith'],
          `table "${t.monolith}" is mapped twice (${owner === service ? 'in this service' : `service ${owner} owns it`})`,
        );
      else owners.set(t.monolith, service);
      if (serviceTables.has(serviceTable)) problem([...at, 'service'], `service table "${serviceTable}" is mapped twice in ${service}`);
      serviceTables.add(serviceTable);

      const columns = t.columns.map((c): [string, string] => (typeof c === 'string' ? [c, c] : [c.monolith, c.service]));
      for (const [side, index] of [
        ['monolith', 0],
        ['service', 1],
      ] as const) {
        const seen = new Set<string>();
        columns.forEach((c, j) => {
          if (seen.has(c[index])) problem([...at, 'columns', j], `${side} column "${c[index]}" is listed twice`);
          seen.add(c[index]);
        });
      }
      const keys = new Set<string>();
      t.key.forEach((k, j) => {
        if (keys.has(k.name)) problem([...at, 'key', j, 'name'], `key column "${k.name}" is listed twice`);
        keys.add(k.name);
        if (!columns.some((c) => c[0] === k.name))
          problem(
            [...at, 'key', j, 'name'],
            `key column "${k.name}" is not among the table's columns (by its monolith name); add it to columns`,
          );
      });
      return { monolith: t.monolith, service: serviceTable, key: t.key, columns };
    });
    return { service, tables };
  });
  if (problems.length) throw new DataMappingError(file, problems);
  return new DataMappings(mappings);
}
