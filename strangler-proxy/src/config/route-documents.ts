import os from 'node:os';
import { Redis } from 'ioredis';
import type { LiveFigures } from '../metrics/live-figures.ts';
import type { InFlightByVersion } from '../proxy/in-flight-writes.ts';
import { tableHash } from './compile-route-table.ts';

/**
 * The route table shared by a fleet of proxies, kept in Redis as a versioned document. Every change
 * is a compare-and-set on the revision it was based on, made in one Lua script with its audit record
 * and its announcement, so two operators can never both win and no proxy can miss a change that was
 * made: the announcement is a hint (pub/sub loses messages while a subscriber is away), the revision
 * a proxy polls is the truth.
 *
 * Keys, under a prefix (default `strangler:routes`): `<p>:doc` (hash: revision, text, hash, at, actor,
 * reason), `<p>:texts` (hash: revision → text, for history and rollback), `<p>:audit` (list of audit
 * records, newest first), `<p>:proxy:<id>` (each proxy's report, expiring), channel `<p>:changed`.
 */

/** The key prefix of a store when none is given: one fleet per Redis. */
export const DEFAULT_STORE_PREFIX = 'strangler:routes';

/** The table in force in the store. */
export interface RouteDocument {
  revision: number;
  text: string;
  hash: string;
  at: string;
  actor: string;
  reason: string;
}

export type ChangeKind = 'seed' | 'flip' | 'rollback' | 'push';

/** One change, as the audit keeps it: who, when, why, from which revision to which, and what it changed. */
export interface AuditRecord {
  revision: number;
  at: string;
  actor: string;
  reason: string;
  kind: ChangeKind;
  /** The route group the change was about, when it was about one. */
  group?: string;
  from: { revision: number; hash: string | null };
  to: { revision: number; hash: string };
  /** The kinds of request whose handling changed (`routes diff`), one line each. */
  diff: string[];
}

export interface Change {
  /** The revision the change was made from: refused when the store has moved past it. */
  basedOn: number;
  text: string;
  actor: string;
  reason: string;
  kind: ChangeKind;
  group?: string;
  diff: string[];
}

/** A change made from a revision that is no longer the store's: someone else changed the table first. */
export class StaleRevisionError extends Error {
  override readonly name = 'StaleRevisionError';
  readonly basedOn: number;
  readonly current: number;
  readonly by: AuditRecord | undefined;
  constructor(basedOn: number, current: number, by: AuditRecord | undefined) {
    super(
      `the route table changed since revision ${basedOn}: the store is at revision ${current}` +
        (by ? ` (${by.kind}${by.group ? ` of ${by.group}` : ''} by ${by.actor} at ${by.at}: ${by.reason})` : '') +
        '; look at it again and redo the change from there',
    );
    this.basedOn = basedOn;
    this.current = current;
    this.by = by;
  }
}

/** What each proxy reports about itself, every poll: which table it serves and whether it can tell it is current. */
export interface InstanceReport {
  id: string;
  revision: number;
  hash: string;
  stale: boolean;
  at: string;
  /** What each route group's sides have answered since the proxy started (for a cutover's live analysis). */
  live?: LiveFigures;
  /**
   * The writes it still runs, by the revision that routed them: a writer switch waits until none
   * routed before its freeze is left on any proxy, without needing each proxy's admin URL.
   */
  inFlightWrites?: InFlightByVersion[];
}

// KEYS: doc, texts, audit. ARGV: basedOn, text, hash, at, actor, reason, audit JSON (without revision), channel.
const WRITE = `
local current = tonumber(redis.call('HGET', KEYS[1], 'revision') or '0')
if current ~= tonumber(ARGV[1]) then return {0, current} end
local revision = current + 1
redis.call('HSET', KEYS[1], 'revision', revision, 'text', ARGV[2], 'hash', ARGV[3], 'at', ARGV[4], 'actor', ARGV[5], 'reason', ARGV[6])
redis.call('HSET', KEYS[2], tostring(revision), ARGV[2])
local record = cjson.decode(ARGV[7])
record['revision'] = revision
record['to']['revision'] = revision
redis.call('LPUSH', KEYS[3], cjson.encode(record))
redis.call('PUBLISH', ARGV[8], tostring(revision))
return {1, revision}
`;

/** A Redis client for the store: no offline queue and short timeouts, so a Redis outage is an error at once, never a hung request. */
export function storeClient(url: string): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
    commandTimeout: 1000,
    // Reconnect quickly and for ever: a proxy must catch up within seconds of Redis returning.
    retryStrategy: (times) => Math.min(100 * times, 500),
  });
  // Failures surface on the commands; the connection's own error events are expected during an outage.
  redis.on('error', () => {});
  return redis;
}

export class RouteDocuments {
  readonly prefix: string;
  readonly channel: string;
  readonly #redis: Redis;
  readonly #keys: { doc: string; texts: string; audit: string };

  constructor(redis: Redis, prefix = DEFAULT_STORE_PREFIX) {
    this.#redis = redis;
    this.prefix = prefix;
    this.channel = `${prefix}:changed`;
    this.#keys = { doc: `${prefix}:doc`, texts: `${prefix}:texts`, audit: `${prefix}:audit` };
  }

  get redis(): Redis {
    return this.#redis;
  }

  /** The store's revision: 0 when it holds no table yet. */
  async revision(): Promise<number> {
    return Number((await this.#redis.hget(this.#keys.doc, 'revision')) ?? 0);
  }

  async read(): Promise<RouteDocument | undefined> {
    const d = await this.#redis.hgetall(this.#keys.doc);
    if (!d.revision || d.text === undefined) return undefined;
    return {
      revision: Number(d.revision),
      text: d.text,
      hash: d.hash ?? tableHash(d.text),
      at: d.at ?? '',
      actor: d.actor ?? '',
      reason: d.reason ?? '',
    };
  }

  /** Makes the change unless the store has moved past `basedOn` (then StaleRevisionError, naming the change that won). */
  async write(change: Change): Promise<RouteDocument> {
    const at = new Date().toISOString();
    const hash = tableHash(change.text);
    const current = change.basedOn === 0 ? undefined : await this.read();
    const record: Omit<AuditRecord, 'revision'> = {
      at,
      actor: change.actor,
      reason: change.reason,
      kind: change.kind,
      ...(change.group ? { group: change.group } : {}),
      from: { revision: change.basedOn, hash: current && current.revision === change.basedOn ? current.hash : null },
      to: { revision: 0, hash },
      diff: change.diff,
    };
    const [ok, revision] = (await this.#redis.eval(
      WRITE,
      3,
      this.#keys.doc,
      this.#keys.texts,
      this.#keys.audit,
      String(change.basedOn),
      change.text,
      hash,
      at,
      change.actor,
      change.reason,
      JSON.stringify(record),
      this.channel,
    )) as [number, number];
    if (ok !== 1) {
      const [latest] = await this.history({ limit: 1 });
      throw new StaleRevisionError(change.basedOn, revision, latest);
    }
    return { revision, text: change.text, hash, at, actor: change.actor, reason: change.reason };
  }

  /** The table's text at a revision, for rollback and history. */
  async textAt(revision: number): Promise<string | undefined> {
    return (await this.#redis.hget(this.#keys.texts, String(revision))) ?? undefined;
  }

  /** The audit, newest first; only the changes about `group` when given. */
  async history(o: { group?: string; limit?: number } = {}): Promise<AuditRecord[]> {
    const limit = o.limit ?? 50;
    // The whole list when filtering: a group's changes may be far apart. The audit is small (one line a change).
    const raw = await this.#redis.lrange(this.#keys.audit, 0, o.group ? -1 : limit - 1);
    // Lua's cjson writes an empty array as {}: read the diff back as the list it is.
    const records = raw.map((r) => {
      const record = JSON.parse(r) as AuditRecord;
      return { ...record, diff: Array.isArray(record.diff) ? record.diff : [] };
    });
    return (o.group ? records.filter((r) => r.group === o.group) : records).slice(0, limit);
  }

  async report(instance: InstanceReport, ttlSeconds: number): Promise<void> {
    await this.#redis.set(`${this.prefix}:proxy:${instance.id}`, JSON.stringify(instance), 'EX', ttlSeconds);
  }

  async withdraw(instanceId: string): Promise<void> {
    await this.#redis.del(`${this.prefix}:proxy:${instanceId}`);
  }

  /** Every proxy that reported within its time to live. */
  async fleet(): Promise<InstanceReport[]> {
    const out: InstanceReport[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', `${this.prefix}:proxy:*`, 'COUNT', 200);
      cursor = next;
      if (keys.length) for (const v of await this.#redis.mget(keys)) if (v) out.push(JSON.parse(v) as InstanceReport);
    } while (cursor !== '0');
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }
}

/** Who is making a change, for the audit: the user and the machine. */
export const defaultActor = (): string => `${process.env.USER ?? os.userInfo().username}@${os.hostname()}`;
