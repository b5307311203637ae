/** The two databases a service's rows live in during a migration. */
export type Side = 'monolith' | 'service';
export const SIDES: readonly Side[] = ['monolith', 'service'];
export const otherSide = (side: Side): Side => (side === 'monolith' ? 'service' : 'monolith');

/** A key column: its (monolith-side) name and the SQL type its text form is cast back to. */
export interface KeyColumn {
  name: string;
  type: 'bigint' | 'text';
}

/** How one table of the monolith maps onto a table of a service. */
export interface TableMapping {
  /** The table's name on each side (a service may rename). */
  monolith: string;
  service: string;
  /** The primary key, by monolith column name; the same values on both sides (ids are disjoint by range). */
  key: readonly KeyColumn[];
  /** Every column: [monolith column, service column]. The key columns are among them. */
  columns: readonly (readonly [string, string])[];
}

/** The tables a service owns, in dependency order (parents first). */
export interface ServiceDataMapping {
  service: string;
  tables: readonly TableMapping[];
}

export class UnknownServiceError extends Error {
  override readonly name = 'UnknownServiceError';
}

/** Every service's mapping, as read from a data mapping file (see load-data-mapping.ts). */
export class DataMappings {
  /** The services, in the file's order. */
  readonly services: readonly string[];
  readonly #byService: ReadonlyMap<string, ServiceDataMapping>;
  constructor(mappings: readonly ServiceDataMapping[]) {
    this.#byService = new Map(mappings.map((m) => [m.service, m]));
    this.services = mappings.map((m) => m.service);
  }

  /** The tables `service` owns; an UnknownServiceError naming the known services when the file has none for it. */
  for(service: string): ServiceDataMapping {
    const m = this.#byService.get(service);
    if (!m) throw new UnknownServiceError(`no data mapping for service "${service}"; known: ${this.services.join(', ')}`);
    return m;
  }
}

/** A table's name on one side. */
export const tableOn = (t: TableMapping, side: Side): string => t[side];

/** The table's columns as named on one side, in mapping order. */
export const columnsOn = (t: TableMapping, side: Side): string[] => t.columns.map((c) => c[side === 'monolith' ? 0 : 1]);

/** The key columns as named on one side, with their types. */
export function keyOn(t: TableMapping, side: Side): KeyColumn[] {
  return t.key.map((k) => {
    const pair = t.columns.find((c) => c[0] === k.name);
    if (!pair) throw new Error(`key column ${k.name} of ${t.monolith} is not among its mapped columns`);
    return { name: side === 'monolith' ? pair[0] : pair[1], type: k.type };
  });
}

/** SQL identifiers come from the data mapping file, never from requests; still, refuse anything odd. */
export function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`"${name}" is not a plain SQL identifier`);
  return `"${name}"`;
}
