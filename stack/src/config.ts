import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHARED_STATE_DIR } from './postgres-reach.ts';
import { DATA_MAPPING_FILE, isPreset, PRESETS, type Preset, type ServiceName } from '@strangler/reference-migration';

/** The proxy's admin token when ADMIN_TOKEN is unset: known to anyone with the source, so local use only. */
export const LOCAL_ADMIN_TOKEN = 'local-development-admin-token';

/** The root of the repository, whatever the working directory. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * As root, where this clone's embedded data lives when the postgres user cannot enter the clone
 * (one folder per clone path, so two clones never share a server's data).
 */
export const outsideCloneDir = path.join(SHARED_STATE_DIR, createHash('sha256').update(repoRoot).digest('hex').slice(0, 12));

export interface StackConfig {
  /** A PostgreSQL server to use instead of the embedded one; its databases are created on it (env DATABASE_URL). */
  databaseUrl: string | undefined;
  /** Where the embedded server keeps its data; reused across runs (env STRANGLER_DATA_DIR, default `.data/postgres`). */
  embeddedDataDir: string;
  /**
   * As root, the data folder when the postgres user cannot enter the clone's `.data` (a clone in
   * /root): `/var/lib/strangler/<hash of the clone path>/postgres`; unset when STRANGLER_DATA_DIR is set.
   */
  embeddedFallbackDataDir: string | undefined;
  /** Port of the embedded server; not 5432, which a system PostgreSQL usually holds (env EMBEDDED_PG_PORT, default 54329). */
  embeddedPort: number;
  /** Port of the monolith (env MONOLITH_PORT, default 3000). */
  monolithPort: number;
  /** Ports of the extracted services (env AUTH_PORT 3101, LISTINGS_PORT 3102, ORDERS_PORT 3103). */
  servicePorts: Record<ServiceName, number>;
  /** Port of the replicator's health, metrics and status listener (env SYNC_PORT, default 8082). */
  syncPort: number;
  /**
   * The routing state to start in (env STRANGLER_PRESET: monolith, mixed or services). When set, the
   * route table is written from it; when unset, an existing table is kept (it holds the user's flips)
   * and a new one starts `mixed`.
   */
  preset: Preset | undefined;
  /** Public port of the strangler proxy, the URL users get (env PROXY_PORT, default 8080). */
  proxyPort: number;
  /** The proxy's admin port (env ADMIN_PORT, default 8081). */
  adminPort: number;
  /** Admin token of the proxy; a fixed development value unless ADMIN_TOKEN is set. */
  adminToken: string;
  /** The route table the proxy serves (env STRANGLER_ROUTES, default `.data/routes.yaml`, rendered on first start). */
  routesFile: string;
  /** Where the running stack tells the `strangler` CLI its URLs (`.data/stack.json`, next to the route table). */
  stackFile: string;
  /** The data mapping the replicator and `strangler data …` use (env DATA_MAPPING, default the reference migration's `reference-migration/data-mapping.yaml`). */
  dataMapping: string;
  /** Keys that sign session tokens; a fixed development value unless SESSION_SECRET is set. */
  sessionSecret: string;
  /** Redis shared by the apps for session revocations (env REDIS_URL; unset = each app keeps its own). */
  redisUrl: string | undefined;
  /** Log level passed to every component (env LOG_LEVEL, default info). */
  logLevel: string;
  /** Prepended to every database name, so several stacks can share one server (env STRANGLER_DB_PREFIX, default none). */
  databasePrefix: string;
}

function port(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new Error(`${name} must be a port number from 0 to 65535, got "${value}"`);
  }
  return n;
}

function preset(value: string | undefined): Preset | undefined {
  if (value === undefined || value === '') return undefined;
  if (!isPreset(value)) throw new Error(`STRANGLER_PRESET must be one of ${Object.keys(PRESETS).join(', ')}, got "${value}"`);
  return value;
}

function prefix(value: string): string {
  if (!/^([a-z_][a-z0-9_]{0,30})?$/.test(value)) {
    throw new Error(`STRANGLER_DB_PREFIX must be lowercase letters, digits and _ (at most 31), got "${value}"`);
  }
  return value;
}

/** The only place the stack reads the environment. */
export function loadStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  return Object.freeze({
    databaseUrl: env.DATABASE_URL || undefined,
    embeddedDataDir: path.resolve(repoRoot, env.STRANGLER_DATA_DIR ?? '.data/postgres'),
    // A folder the user chose is not second-guessed: if the postgres user cannot reach it, the start fails saying so.
    embeddedFallbackDataDir: env.STRANGLER_DATA_DIR === undefined ? path.join(outsideCloneDir, 'postgres') : undefined,
    embeddedPort: port('EMBEDDED_PG_PORT', env.EMBEDDED_PG_PORT, 54329),
    monolithPort: port('MONOLITH_PORT', env.MONOLITH_PORT, 3000),
    servicePorts: Object.freeze({
      auth: port('AUTH_PORT', env.AUTH_PORT, 3101),
      listings: port('LISTINGS_PORT', env.LISTINGS_PORT, 3102),
      orders: port('ORDERS_PORT', env.ORDERS_PORT, 3103),
    }),
    syncPort: port('SYNC_PORT', env.SYNC_PORT, 8082),
    preset: preset(env.STRANGLER_PRESET),
    proxyPort: port('PROXY_PORT', env.PROXY_PORT, 8080),
    adminPort: port('ADMIN_PORT', env.ADMIN_PORT, 8081),
    adminToken: env.ADMIN_TOKEN || LOCAL_ADMIN_TOKEN,
    routesFile: path.resolve(repoRoot, env.STRANGLER_ROUTES ?? '.data/routes.yaml'),
    stackFile: path.resolve(
      repoRoot,
      env.STRANGLER_ROUTES ? path.join(path.dirname(env.STRANGLER_ROUTES), 'stack.json') : '.data/stack.json',
    ),
    dataMapping: env.DATA_MAPPING ? path.resolve(repoRoot, env.DATA_MAPPING) : DATA_MAPPING_FILE,
    // Development only: anything deployed sets SESSION_SECRET (infra passes it from Secrets Manager).
    sessionSecret: env.SESSION_SECRET || 'local-development-session-secret-change-me',
    redisUrl: env.REDIS_URL || undefined,
    logLevel: env.LOG_LEVEL || 'info',
    databasePrefix: prefix(env.STRANGLER_DB_PREFIX ?? ''),
  });
}
