import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { RouteTable } from '../routing/route-table.ts';
import { compileRouteTable } from './compile-route-table.ts';

export type ReloadResult = { ok: true; table: RouteTable; changed: boolean } | { ok: false; error: Error };

/** Where the table in force comes from, for the admin API and readiness. */
export type TableSourceStatus =
  | { kind: 'file'; file: string }
  | { kind: 'store'; store: string; revision: number; stale: boolean; lastCheckedAt: string | null; instance: string };

/**
 * The route table in force, and how it follows its source: a file (one proxy, `npm start`) or the
 * shared store (a fleet). `current` is read once per request; a new table is swapped in whole.
 */
export interface RouteTables extends EventEmitter<{ reload: [ReloadResult] }> {
  readonly current: RouteTable;
  reload(): ReloadResult | Promise<ReloadResult>;
  /** Starts following the source. */
  watch(): void;
  status(): TableSourceStatus;
  close(): void;
}

/**
 * Holds the route table in force. A reload reads and compiles the file first and swaps only a valid
 * table in, in one assignment: a request reads `current` once when it starts and keeps that table to
 * the end, so in-flight requests finish on the table they started with. An invalid file is refused
 * and the last good table stays.
 */
export class RouteTableStore extends EventEmitter<{ reload: [ReloadResult] }> implements RouteTables {
  readonly file: string;
  #current: RouteTable;
  #watcher: fs.FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #lastText: string;

  private constructor(file: string, table: RouteTable, text: string) {
    super();
    this.file = file;
    this.#current = table;
    this.#lastText = text;
  }

  /** Loads the file; throws (RouteTableError) when the first table is invalid: nothing to serve. */
  static open(file: string): RouteTableStore {
    const text = fs.readFileSync(file, 'utf8');
    return new RouteTableStore(path.resolve(file), compileRouteTable(text), text);
  }

  get current(): RouteTable {
    return this.#current;
  }

  status(): TableSourceStatus {
    return { kind: 'file', file: this.file };
  }

  reload(): ReloadResult {
    let result: ReloadResult;
    try {
      const text = fs.readFileSync(this.file, 'utf8');
      if (text === this.#lastText) {
        result = { ok: true, table: this.#current, changed: false };
      } else {
        const table = compileRouteTable(text);
        this.#current = table;
        this.#lastText = text;
        result = { ok: true, table, changed: true };
      }
    } catch (err) {
      result = { ok: false, error: err as Error };
    }
    if (!result.ok || result.changed) this.emit('reload', result);
    return result;
  }

  /**
   * Watches the file's folder (editors and `mv` replace the file rather than write into it) and
   * reloads shortly after a change settles.
   */
  watch(debounceMs = 50): void {
    if (this.#watcher) return;
    const base = path.basename(this.file);
    this.#watcher = fs.watch(path.dirname(this.file), (_event, name) => {
      if (name !== null && name !== base) return;
      clearTimeout(this.#debounce);
      this.#debounce = setTimeout(() => this.reload(), debounceMs);
    });
  }

  close(): void {
    clearTimeout(this.#debounce);
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
