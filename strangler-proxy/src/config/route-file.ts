import fs from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { compileRouteTable, tableHash } from './compile-route-table.ts';
import { parseRouteTable } from './load-route-table.ts';
import type { Mode } from './route-table-schema.ts';

/** A group's fields as the file states them. */
export interface GroupState {
  mode: Mode;
  target: string | undefined;
  weight: number | undefined;
  frozen: boolean;
}

/** The group's state in a route table's text, or undefined when the table has no such group. */
export function groupState(text: string, group: string): GroupState | undefined {
  const g = parseRouteTable(text).source.groups[group];
  return g && { mode: g.mode, target: g.target, weight: g.weight, frozen: g.frozen };
}

/**
 * The text with the group's fields changed, comments and layout kept; refused (RouteTableError,
 * every problem with its line) unless the result is a valid table: a tool never writes a table the
 * proxy would refuse.
 */
export function editGroup(
  text: string,
  group: string,
  change: Partial<Record<'mode' | 'target' | 'weight' | 'frozen', string | number | boolean | undefined>>,
): string {
  const doc = parseDocument(text);
  for (const [field, value] of Object.entries(change)) {
    // A default value is left out rather than written, so an edit that is undone leaves the file as it was.
    if (value === undefined || (field === 'frozen' && value === false)) doc.deleteIn(['groups', group, field]);
    else doc.setIn(['groups', group, field], value);
  }
  const next = doc.toString();
  compileRouteTable(next);
  return next;
}

/**
 * The text with an upstream's URL set (the entry made when missing) or, with `url` undefined, the
 * entry removed; comments and layout kept, refused (RouteTableError) unless the result is a valid table.
 */
export function editUpstream(text: string, upstream: string, url: string | undefined): string {
  const doc = parseDocument(text);
  if (url === undefined) doc.deleteIn(['upstreams', upstream]);
  else if (doc.hasIn(['upstreams', upstream])) doc.setIn(['upstreams', upstream, 'url'], url);
  else doc.setIn(['upstreams', upstream], doc.createNode({ url }, { flow: true }));
  const next = doc.toString();
  compileRouteTable(next);
  return next;
}

/** Replaces the file in one rename, so a reader (the proxy's watcher) never sees half a table. Returns its hash. */
export async function writeRouteFile(file: string, text: string): Promise<string> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await fs.writeFile(tmp, text);
  await fs.rename(tmp, file);
  return tableHash(text);
}
