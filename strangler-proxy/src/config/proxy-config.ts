import { withPassword } from '@strangler/service-kit/secret-url';
import { DEFAULT_STORE_PREFIX } from './route-documents.ts';
import { ConfigError, envReader } from '@strangler/service-kit/env';
import { parseHostList } from '../proxy/host-header.ts';

/** The proxy's own settings (the route table is separate and hot-reloadable). Every option: unit and default. */
export interface ProxyConfig {
  /**
   * Route table file (ROUTES_FILE): watched and reloaded; with a shared store, only the table that
   * seeds an empty store and is served while the store cannot be reached at start.
   */
  routesFile: string | undefined;
  /**
   * The fleet's shared route table in Redis (ROUTES_STORE_URL, key prefix ROUTES_STORE_PREFIX,
   * default `strangler:routes`, revision checked every ROUTES_POLL_MS, default 1000); unset: the file.
   */
  routesStore: { url: string; prefix: string; pollMs: number; seed: 'if-empty' | 'replace'; mirrorToFile: boolean } | undefined;
  /** Public listener (PROXY_HOST 127.0.0.1, PROXY_PORT 8080; 0 picks a free port). */
  host: string;
  port: number;
  /** Admin listener, its own port so it is never exposed by accident (ADMIN_HOST 127.0.0.1, ADMIN_PORT 8081). */
  adminHost: string;
  adminPort: number;
  /**
   * Token for the admin API, the report pages and preview routing (ADMIN_TOKEN, at least 16
   * characters; unset = admin writes, preview routing and every admin read but the probes and
   * metrics refused). Compared in constant time.
   */
  adminToken: string | undefined;
  /**
   * Key of the dry-run marks on mirrored writes, which apps pass on to their own calls (DRY_RUN_SECRET,
   * at least 16 characters; default: derived from ADMIN_TOKEN, else random per process — enough for
   * one proxy; a fleet must share one).
   */
  dryRunSecret: string | undefined;
  /**
   * Host header values served (ALLOWED_HOSTS, comma-separated `host` or `host:port`; default
   * localhost, 127.0.0.1 and [::1] on any port). Anything else gets 421; a malformed Host 400.
   */
  allowedHosts: string[];
  /**
   * Host header values the admin listener answers beyond its probes (ADMIN_ALLOWED_HOSTS, same
   * form; default localhost, 127.0.0.1 and [::1] on any port): a guard against DNS rebinding.
   */
  adminAllowedHosts: string[];
  /** Proxies in front of this one whose X-Forwarded-* are believed (TRUSTED_PROXY_HOPS, default 0). */
  trustedProxyHops: number;
  limits: {
    /** Largest request body, bytes (MAX_BODY_BYTES, default 100 KiB: what the apps accept). Bodies are buffered, so this is also memory per request. */
    maxBodyBytes: number;
    /** Bytes of request bodies buffered at once, all requests together, before more get 503 (MAX_BUFFERED_BYTES, default 64 MiB). */
    maxBufferedBytes: number;
    /** Open client connections at once; more are closed on arrival (MAX_CONNECTIONS, default 2 048). */
    maxConnections: number;
    /** Longest request target, bytes (MAX_URL_BYTES, default 8 192). */
    maxUrlBytes: number;
    /** Largest request head, bytes (MAX_HEADER_BYTES, default 16 384; Node's parser enforces it). */
    maxHeaderBytes: number;
    /** Most request headers (MAX_HEADERS, default 100). */
    maxHeaders: number;
    /** Time to receive the request head, ms (HEADERS_TIMEOUT_MS, default 10 000): slowloris guard. */
    headersTimeoutMs: number;
    /** Time to receive the whole request, ms (REQUEST_TIMEOUT_MS, default 30 000). */
    requestTimeoutMs: number;
    /**
     * Idle keep-alive connection lifetime, ms (IDLE_TIMEOUT_MS, default 65 000): longer than a load
     * balancer's (60 s on AWS's), which must close an idle connection first, or it reuses one the
     * proxy is closing and answers 502; and longer than a user's pause between two pages.
     */
    idleTimeoutMs: number;
    /** Requests being sent to the fallback at once before more get 503 (FALLBACK_CONCURRENCY, default 64). */
    fallbackConcurrency: number;
  };
  /**
   * The cookie holding the apps' session token, whose subject keys the canary so a user keeps one side
   * on every device (SESSION_COOKIE; unset: visitors are keyed by the proxy's own uid cookie only).
   */
  sessionCookie: string | undefined;
  /** How long SIGTERM waits for requests in flight, ms (SHUTDOWN_GRACE_MS, default 10 000). */
  shutdownGraceMs: number;
  shadow: {
    /** PostgreSQL database for shadow results, shared by every proxy (STRANGLER_DATABASE_URL, its password may come from STRANGLER_DATABASE_PASSWORD; unset: this process's memory). */
    databaseUrl: string | undefined;
    /** Mirrors in flight at once before more are dropped and counted (SHADOW_MAX_IN_FLIGHT, default 64). */
    maxInFlight: number;
    /** Largest request or answer body mirrored and compared, bytes (SHADOW_MAX_BODY_BYTES, default 1 MiB). */
    maxBodyBytes: number;
    /** Worker threads that send the copies, compare and redact, off the event loop (SHADOW_WORKERS, default 1). */
    workers: number;
    /** Extra key-name and value patterns redacted before storing (SHADOW_REDACT_KEYS, SHADOW_REDACT_VALUES: comma-separated regexes). */
    redactKeys: string[];
    redactValues: string[];
    /** How long results are kept, days (SHADOW_RETENTION_DAYS, default 7). */
    retentionDays: number;
    /** Examples kept per route and field (SHADOW_EXAMPLES_PER_FIELD, default 3). */
    examplesPerField: number;
    /** The replicator's status listener, whose `/watermark` says when a service's copy has caught up with the monolith (SYNC_STATUS_URL, e.g. http://127.0.0.1:8082; unset: copies are sent at once and never counted stale). */
    syncStatusUrl: string | undefined;
    /** How far the proxy's clock may be behind the replicator's or its databases', ms: added to every moment waited for (SHADOW_CLOCK_MARGIN_MS, default 10). */
    clockMarginMs: number;
  };
  /** pino level (LOG_LEVEL, default info). */
  logLevel: string;
}

/** A whole number from `min` to `max`, or `fallback` when unset: the apps' reader. */
function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  return envReader(env).int(name, fallback, min, max);
}

/** Comma-separated regular expressions, each checked to compile. */
function patterns(env: NodeJS.ProcessEnv, name: string): string[] {
  const list = (env[name] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  for (const p of list) {
    try {
      new RegExp(p);
    } catch (err) {
      throw new ConfigError(`${name}: "${p}" is not a valid regular expression (${(err as Error).message})`);
    }
  }
  return list;
}

/** An http(s) origin, its trailing slash dropped; undefined when unset. */
function httpUrl(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL like http://127.0.0.1:8082`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(`${name} must be an http:// or https:// URL, not ${url.protocol}`);
  return raw.replace(/\/+$/, '');
}

export const DEFAULT_ALLOWED_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/** A comma-separated host allow-list, each entry parsed as a Host header is; unset or empty: the loopback names. */
function hostList(env: NodeJS.ProcessEnv, name: string): string[] {
  const raw = env[name];
  if (!raw?.trim()) return DEFAULT_ALLOWED_HOSTS;
  try {
    return parseHostList(raw, name);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

function oneOf<const T extends readonly string[]>(env: NodeJS.ProcessEnv, name: string, values: T, fallback: T[number]): T[number] {
  const v = env[name] || fallback;
  if (!values.includes(v)) throw new ConfigError(`${name} must be one of ${values.join(', ')}, got "${v}"`);
  return v;
}

/** The only place the proxy reads the environment; `overrides` are CLI flags, which win. */
export function loadProxyConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Pick<ProxyConfig, 'routesFile' | 'port' | 'adminPort'>> = {},
): ProxyConfig {
  const routesFile = overrides.routesFile ?? (env.ROUTES_FILE || undefined);
  const storeUrl = env.ROUTES_STORE_URL ? withPassword(env.ROUTES_STORE_URL, env.ROUTES_STORE_PASSWORD) : undefined;
  if (!routesFile && !storeUrl)
    throw new ConfigError('ROUTES_FILE (or --routes) is required: the route table to serve (or ROUTES_STORE_URL, a shared store in Redis)');
  const storePrefix = env.ROUTES_STORE_PREFIX || DEFAULT_STORE_PREFIX;
  if (!/^[A-Za-z0-9:_-]{1,100}$/.test(storePrefix))
    throw new ConfigError(`ROUTES_STORE_PREFIX must be 1 to 100 letters, digits, ':', '_' or '-', got "${storePrefix}"`);
  const adminToken = env.ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 16) throw new ConfigError('ADMIN_TOKEN must be at least 16 characters');
  const dryRunSecret = env.DRY_RUN_SECRET || undefined;
  if (dryRunSecret !== undefined && dryRunSecret.length < 16) throw new ConfigError('DRY_RUN_SECRET must be at least 16 characters');
  return Object.freeze({
    routesFile,
    routesStore: storeUrl
      ? Object.freeze({
          url: storeUrl,
          prefix: storePrefix,
          pollMs: int(env, 'ROUTES_POLL_MS', 1000, 50, 60_000),
          seed: oneOf(env, 'ROUTES_STORE_SEED', ['if-empty', 'replace'] as const, 'if-empty'),
          mirrorToFile: envReader(env).bool('ROUTES_FILE_MIRROR', false),
        })
      : undefined,
    host: env.PROXY_HOST || '127.0.0.1',
    port: overrides.port ?? int(env, 'PROXY_PORT', 8080, 0, 65535),
    adminHost: env.ADMIN_HOST || '127.0.0.1',
    adminPort: overrides.adminPort ?? int(env, 'ADMIN_PORT', 8081, 0, 65535),
    adminToken,
    dryRunSecret,
    allowedHosts: hostList(env, 'ALLOWED_HOSTS'),
    adminAllowedHosts: hostList(env, 'ADMIN_ALLOWED_HOSTS'),
    trustedProxyHops: int(env, 'TRUSTED_PROXY_HOPS', 0, 0, 10),
    limits: Object.freeze({
      maxBodyBytes: int(env, 'MAX_BODY_BYTES', 100 * 1024, 0, 512 * 1024 * 1024),
      maxBufferedBytes: int(env, 'MAX_BUFFERED_BYTES', 64 * 1024 * 1024, 1024, 16 * 1024 * 1024 * 1024),
      maxConnections: int(env, 'MAX_CONNECTIONS', 2048, 1, 1_000_000),
      maxUrlBytes: int(env, 'MAX_URL_BYTES', 8192, 64, 65_536),
      maxHeaderBytes: int(env, 'MAX_HEADER_BYTES', 16_384, 1024, 65_536),
      maxHeaders: int(env, 'MAX_HEADERS', 100, 10, 1000),
      headersTimeoutMs: int(env, 'HEADERS_TIMEOUT_MS', 10_000, 100, 300_000),
      requestTimeoutMs: int(env, 'REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
      idleTimeoutMs: int(env, 'IDLE_TIMEOUT_MS', 65_000, 100, 600_000),
      fallbackConcurrency: int(env, 'FALLBACK_CONCURRENCY', 64, 1, 100_000),
    }),
    sessionCookie: env.SESSION_COOKIE || undefined,
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 300_000),
    shadow: Object.freeze({
      databaseUrl: env.STRANGLER_DATABASE_URL ? withPassword(env.STRANGLER_DATABASE_URL, env.STRANGLER_DATABASE_PASSWORD) : undefined,
      maxInFlight: int(env, 'SHADOW_MAX_IN_FLIGHT', 64, 1, 10_000),
      maxBodyBytes: int(env, 'SHADOW_MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
      workers: int(env, 'SHADOW_WORKERS', 1, 1, 16),
      redactKeys: patterns(env, 'SHADOW_REDACT_KEYS'),
      redactValues: patterns(env, 'SHADOW_REDACT_VALUES'),
      retentionDays: int(env, 'SHADOW_RETENTION_DAYS', 7, 1, 365),
      examplesPerField: int(env, 'SHADOW_EXAMPLES_PER_FIELD', 3, 1, 100),
      syncStatusUrl: httpUrl(env, 'SYNC_STATUS_URL'),
      clockMarginMs: int(env, 'SHADOW_CLOCK_MARGIN_MS', 10, 0, 10_000),
    }),
    logLevel: env.LOG_LEVEL || 'info',
  });
}
