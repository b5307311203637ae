import fs from 'node:fs/promises';
import type { RouteChange } from '../routing/diff-tables.ts';
import { tableHash } from './compile-route-table.ts';
import { writeRouteFile } from './route-file.ts';
import { RouteDocuments, storeClient, type ChangeKind, type InstanceReport } from './route-documents.ts';

/** A table as a tool read it: its text and what a change made from it is checked against. */
export interface TableVersion {
  text: string;
  hash: string;
  /** The store's revision; undefined for a file. */
  revision: number | undefined;
}

export interface ChangeAbout {
  actor: string;
  reason: string;
  kind: ChangeKind;
  group?: string;
  diff: string[];
}

/**
 * Where the proxies' route table is changed: one file (a single proxy, `npm start` without Redis)
 * or the fleet's shared store. Either way a change is made only from the table it was computed on:
 * the store checks the revision, the file its text's hash, so an edit made meanwhile is never lost.
 */
export interface TableTarget {
  /** For messages: the file, or the store and its prefix. */
  readonly where: string;
  /** The store itself (history, the fleet's reports); undefined for a file. */
  readonly documents: RouteDocuments | undefined;
  read(): Promise<TableVersion>;
  write(basedOn: TableVersion, text: string, about: ChangeAbout): Promise<TableVersion>;
  close(): void;
}

/** The file changed between the read a change was computed on and its write. */
export class TableChangedError extends Error {
  override readonly name = 'TableChangedError';
}

export function fileTarget(file: string): TableTarget {
  const read = async (): Promise<TableVersion> => {
    const text = await fs.readFile(file, 'utf8');
    return { text, hash: tableHash(text), revision: undefined };
  };
  return {
    where: file,
    documents: undefined,
    read,
    async write(basedOn, text) {
      const now = await read();
      if (now.hash !== basedOn.hash)
        throw new TableChangedError(
          `${file} changed since it was read (table ${basedOn.hash}, now ${now.hash}): look at it again and redo the change`,
        );
      const hash = await writeRouteFile(file, text);
      return { text, hash, revision: undefined };
    },
    close() {},
  };
}

export async function storeTarget(url: string, prefix: string): Promise<TableTarget> {
  const redis = storeClient(url);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`the route table store cannot be reached: ${(err as Error).message}`, { cause: err });
  }
  const documents = new RouteDocuments(redis, prefix);
  return {
    where: `the shared store (${prefix})`,
    documents,
    async read() {
      const doc = await documents.read();
      if (!doc) throw new Error(`the shared store (${prefix}) holds no table yet: push one with \`strangler routes push FILE\``);
      return { text: doc.text, hash: doc.hash, revision: doc.revision };
    },
    async write(basedOn, text, about) {
      const doc = await documents.write({ basedOn: basedOn.revision ?? 0, text, ...about });
      return { text, hash: doc.hash, revision: doc.revision };
    },
    close: () => redis.disconnect(),
  };
}

/** The `routes diff` of a change, one line per kind of request, as the audit keeps it. */
export const diffLines = (changes: readonly RouteChange[]): string[] =>
  changes.map((c) => `${c.method} ${c.path}${c.conditions.length ? ` [${c.conditions.join(', ')}]` : ''}: ${c.before} → ${c.after}`);

export interface Convergence {
  converged: boolean;
  /** Proxies reporting an older revision, or stale. */
  stragglers: InstanceReport[];
  fleet: InstanceReport[];
}

/** Whether every proxy reporting to the store serves `revision` (or later) and can tell it is current. */
export function convergence(fleet: readonly InstanceReport[], revision: number): Convergence {
  const stragglers = fleet.filter((p) => p.revision < revision || p.stale);
  return { converged: fleet.length > 0 && stragglers.length === 0, stragglers, fleet: [...fleet] };
}

export interface FleetWrites {
  /** No proxy runs a write routed before `revision`, by its latest report. */
  drained: boolean;
  /** Writes each proxy still runs that a table older than `revision` routed (`abandoned`: attempts it gave up on, held for the upstream's timeout). */
  running: { id: string; writes: number; abandoned: number }[];
  /** Proxies whose report cannot say: not yet on `revision`, or not reporting their writes (an older proxy). */
  unknown: InstanceReport[];
}

/** The fleet's writes routed before `revision` that are still running, from each proxy's report. */
export function fleetWrites(fleet: readonly InstanceReport[], revision: number): FleetWrites {
  const running: FleetWrites['running'] = [];
  const unknown: InstanceReport[] = [];
  for (const p of fleet) {
    if (p.revision < revision || !p.inFlightWrites) {
      unknown.push(p);
      continue;
    }
    const older = p.inFlightWrites.filter((w) => w.version < revision);
    const writes = older.reduce((n, w) => n + w.writes, 0);
    if (writes) running.push({ id: p.id, writes, abandoned: older.reduce((n, w) => n + w.abandoned, 0) });
  }
  return { drained: fleet.length > 0 && !running.length && !unknown.length, running, unknown };
}

/** Waits until every reporting proxy serves `revision`, up to `timeoutMs`; the last look either way. */
export async function awaitFleet(documents: RouteDocuments, revision: number, timeoutMs: number): Promise<Convergence> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = convergence(await documents.fleet(), revision);
    if (c.converged || Date.now() >= deadline) return c;
    await new Promise((r) => setTimeout(r, 50));
  }
}
