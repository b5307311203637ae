import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { LiveFigures } from '../metrics/live-figures.ts';
import type { InFlightByVersion } from '../proxy/in-flight-writes.ts';
import type { RouteTable } from '../routing/route-table.ts';
import { diffTables } from '../routing/diff-tables.ts';
import { compileRouteTable, tableHash } from './compile-route-table.ts';
import { writeRouteFile } from './route-file.ts';
import { diffLines } from './table-target.ts';
import { RouteDocuments, StaleRevisionError, storeClient, type RouteDocument } from './route-documents.ts';
import type { ReloadResult, RouteTables, TableSourceStatus } from './route-table-store.ts';

export interface SharedStoreOptions {
  url: string;
  prefix: string;
  /** How often the revision is checked besides the announcements, and the proxy's report refreshed. */
  pollMs: number;
  /** A table to put into an empty store (the first proxy of a fleet seeds it), and to serve when Redis cannot be reached at start. */
  seedFile: string | undefined;
  /**
   * `if-empty`: the seed only fills an empty store. `replace`: the seed is the truth at start and
   * replaces a different table in the store (audited), as a single local proxy wants.
   */
  seed: 'if-empty' | 'replace';
  /** Write every table this proxy swaps in to `seedFile`, so the file is what it serves (a local stack's restart keeps flips). */
  mirrorToFile: boolean;
  log: Logger;
}

/**
 * The route table in force, followed from the shared store: a new revision is announced on the
 * store's channel and swapped in at once (as a file reload is); a poll of the revision every
 * `pollMs` is the backstop for announcements missed while disconnected. When Redis cannot be asked,
 * the last good table goes on serving and the proxy says it may be stale (metric, log, readiness
 * detail); it catches up on the first answer after Redis returns.
 */
export class SharedRouteTableStore extends EventEmitter<{ reload: [ReloadResult] }> implements RouteTables {
  readonly instanceId = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  readonly #docs: RouteDocuments;
  readonly #subscriber: Redis;
  readonly #o: SharedStoreOptions;
  #current: RouteTable;
  #revision: number;
  #lastOkAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<ReloadResult> | undefined;
  #closed = false;
  #wasStale = false;
  #figures: (() => Promise<LiveFigures>) | undefined;
  #writes: (() => InFlightByVersion[]) | undefined;

  private constructor(docs: RouteDocuments, subscriber: Redis, o: SharedStoreOptions, table: RouteTable, revision: number, ok: boolean) {
    super();
    this.#docs = docs;
    this.#subscriber = subscriber;
    this.#o = o;
    this.#current = table;
    this.#revision = revision;
    if (ok) this.#lastOkAt = Date.now();
  }

  /**
   * Connects and loads the store's table (seeding an empty store from `seedFile`). Throws when there is
   * nothing to serve: an empty store and no seed, or Redis unreachable and no seed.
   */
  static async open(o: SharedStoreOptions): Promise<SharedRouteTableStore> {
    const redis = storeClient(o.url);
    const subscriber = redis.duplicate();
    subscriber.on('error', () => {});
    const docs = new RouteDocuments(redis, o.prefix);
    // Read once: it seeds (or, with `replace`, is compared with) the store's table, and is served if Redis cannot be had.
    const seedText = o.seedFile === undefined ? undefined : fs.readFileSync(o.seedFile, 'utf8');
    let doc: RouteDocument | undefined;
    try {
      await redis.connect();
      doc = await docs.read();
      if (o.seedFile && seedText !== undefined && (!doc || (o.seed === 'replace' && doc.hash !== tableHash(seedText))))
        doc = await seed(docs, o.seedFile, seedText, doc);
    } catch (err) {
      if (err instanceof StaleRevisionError) doc = await docs.read();
      else if (!o.seedFile) {
        redis.disconnect();
        throw new Error(`the route table store (${o.prefix} in Redis) cannot be read: ${(err as Error).message}`, { cause: err });
      } else o.log.warn({ err: (err as Error).message }, 'route table store unreachable at start: serving the seed file until it answers');
    }
    let store: SharedRouteTableStore;
    if (doc) {
      store = new SharedRouteTableStore(docs, subscriber, o, compileRouteTable(doc.text, { version: doc.revision }), doc.revision, true);
    } else if (seedText !== undefined) {
      // Redis down at start: the seed is served, revision 0, until the store answers.
      store = new SharedRouteTableStore(docs, subscriber, o, compileRouteTable(seedText, { version: 0 }), 0, false);
    } else {
      redis.disconnect();
      throw new Error(
        `the route table store (${o.prefix} in Redis) holds no table yet: give ROUTES_FILE to seed it, or push one with \`strangler routes push FILE\``,
      );
    }
    if (o.mirrorToFile && o.seedFile && doc && doc.text !== seedText) await writeRouteFile(o.seedFile, doc.text);
    return store;
  }

  get current(): RouteTable {
    return this.#current;
  }

  /** Stale: the store has not answered for over two polls, so a change there may not have reached this proxy. */
  get stale(): boolean {
    return Date.now() - this.#lastOkAt > 2 * this.#o.pollMs + 250;
  }

  status(): TableSourceStatus {
    return {
      kind: 'store',
      store: this.#o.prefix,
      revision: this.#revision,
      stale: this.stale,
      lastCheckedAt: this.#lastOkAt ? new Date(this.#lastOkAt).toISOString() : null,
      instance: this.instanceId,
    };
  }

  /** Asks the store now; a new revision is compiled and swapped in. Concurrent calls share one check. */
  reload(): Promise<ReloadResult> {
    this.#checking ??= this.#check().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  async #check(): Promise<ReloadResult> {
    let result: ReloadResult;
    try {
      const revision = await this.#docs.revision();
      this.#lastOkAt = Date.now();
      if (revision === this.#revision) {
        result = { ok: true, table: this.#current, changed: false };
      } else {
        const doc = await this.#docs.read();
        if (!doc) throw new Error('the route table store lost its table');
        this.#current = compileRouteTable(doc.text, { version: doc.revision });
        this.#revision = doc.revision;
        result = { ok: true, table: this.#current, changed: true };
        if (this.#o.mirrorToFile && this.#o.seedFile)
          await writeRouteFile(this.#o.seedFile, doc.text).catch((err: Error) =>
            this.#o.log.warn({ err: err.message, file: this.#o.seedFile }, 'the table served could not be written to the route file'),
          );
      }
    } catch (err) {
      result = { ok: false, error: err as Error };
    }
    this.#sayIfStale();
    // An unreachable store is a state (stale), not a refused table: only refusals and changes are reloads.
    if (result.ok ? result.changed : !this.stale && !isConnectionError(result.error)) this.emit('reload', result);
    if (result.ok) void this.#report();
    return result;
  }

  #sayIfStale(): void {
    const stale = this.stale;
    if (stale !== this.#wasStale) {
      if (stale)
        this.#o.log.warn({ revision: this.#revision }, 'route table store unreachable: serving the last good table, which may be stale');
      else this.#o.log.info({ revision: this.#revision }, 'route table store reachable again');
      this.#wasStale = stale;
    }
  }

  /** What the proxy's reports carry besides the revision: its live figures per group and side. */
  reportFigures(figures: () => Promise<LiveFigures>): void {
    this.#figures = figures;
  }

  /** …and the writes it still runs, by the revision that routed them (a writer switch waits on them). */
  reportWrites(writes: () => InFlightByVersion[]): void {
    this.#writes = writes;
  }

  async #report(): Promise<void> {
    const ttl = Math.max(5, Math.ceil((this.#o.pollMs * 5) / 1000));
    const live = await this.#figures?.().catch(() => undefined);
    // Taken with the revision, after the figures' await: a write routed by an older table can only end from here on.
    const inFlightWrites = this.#writes?.();
    await this.#docs
      .report(
        {
          id: this.instanceId,
          revision: this.#revision,
          hash: this.#current.hash,
          stale: this.stale,
          at: new Date().toISOString(),
          ...(live ? { live } : {}),
          ...(inFlightWrites ? { inFlightWrites } : {}),
        },
        ttl,
      )
      .catch(() => {});
  }

  /** Follows the store: its announcements, the poll, and a check on every reconnection. */
  watch(): void {
    if (this.#timer || this.#closed) return;
    this.#subscriber.on('message', () => void this.reload());
    // On every (re)connection: subscribe (again; a no-op when ioredis already did) and check, which
    // catches whatever was announced while away.
    this.#subscriber.on('ready', () => {
      void this.#subscriber.subscribe(this.#docs.channel).catch(() => {});
      void this.reload();
    });
    this.#docs.redis.on('ready', () => void this.reload());
    void this.#subscriber.connect().catch(() => {});
    this.#timer = setInterval(() => void this.reload(), this.#o.pollMs);
    this.#timer.unref();
    void this.reload();
  }

  /** Stops following; the proxy's report is withdrawn first, so the fleet does not wait on a proxy that is gone. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#subscriber.disconnect();
    void this.#docs
      .withdraw(this.instanceId)
      .catch(() => {})
      .finally(() => this.#docs.redis.disconnect());
  }
}

async function seed(docs: RouteDocuments, file: string, text: string, current: RouteDocument | undefined): Promise<RouteDocument> {
  const next = compileRouteTable(text);
  return docs.write({
    basedOn: current?.revision ?? 0,
    text,
    actor: `proxy@${os.hostname()}`,
    reason: current ? `${file} at the proxy's start replaces the store's table` : `seeded from ${file}`,
    kind: current ? 'push' : 'seed',
    diff: current ? diffLines(diffTables(compileRouteTable(current.text), next)) : [],
  });
}

const isConnectionError = (err: Error): boolean =>
  /connect|closed|timeout|ECONN|EPIPE|writable|stream isn't/i.test(err.message) || (err as NodeJS.ErrnoException).code !== undefined;
