import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { startAuthService } from '@strangler/auth';
import { startListingsService } from '@strangler/listings';
import { startMonolith } from '@strangler/monolith';
import { startOrdersService } from '@strangler/orders';
import { alignWriter, loadDataMapping, startSyncServer, type Replicator, type ServiceData } from '@strangler/data';
import { loadProxyConfig, ProxyAdminClient, startProxy, type RunningProxy } from '@strangler/proxy';
import { createLogger, DEFAULT_LOGIN_THROTTLE, SESSION_COOKIE, type RunningApp } from '@strangler/service-kit';
import { createScratchDatabase, reservePort } from '@strangler/stack';
import { DATA_MAPPING_FILE, renderRouteTable, SERVICES, type Preset, type ServiceName } from '@strangler/reference-migration';
import type {} from '@strangler/stack/testing/provided-context';

export const SESSION_SECRET = 'contract-session-secret-of-32-chars-or-more';
export const ADMIN_TOKEN = 'contract-admin-token-0123456789';

/** The whole system in one process, on scratch databases: what `npm start` runs, for tests. */
export interface System {
  preset: Preset;
  /** The proxy: every request of a test goes through it, as users' do. */
  url: string;
  adminUrl: string;
  routesFile: string;
  /** With `store`: the shared store the proxy follows (seeded from `routesFile`); the CLI changes the table there. */
  routesStore: { url: string; prefix: string } | undefined;
  /** Each app's scratch database URL, and the shadow results' (`strangler`): the CLI's settings. */
  databaseUrls: Record<'monolith' | ServiceName | 'strangler', string>;
  proxy: RunningProxy;
  admin: ProxyAdminClient;
  monolith: RunningApp;
  services: Record<ServiceName, RunningApp>;
  /** Each service's two databases, for the data toolkit. */
  data: Record<ServiceName, ServiceData>;
  replicator: Replicator;
  /** The database that takes the writes of a service's rows now (the monolith's, or the service's own). */
  writerDb(service: ServiceName): pg.Pool;
  close(): Promise<void>;
}

/**
 * Scratch databases for the monolith and each service, every app on port 0, the rows of each
 * service copied from the monolith (`seed` fills it with the demo data first) with the writer set as
 * the preset routes it, the replicator running, and the proxy in front with the preset's route table.
 */
export async function startSystem(
  preset: Preset,
  opts: {
    seed?: boolean;
    /**
     * The proxy follows the fleet's shared store in Redis under `prefix` (a test's own), seeded from
     * the rendered table, as a deployed proxy does, instead of following the routes file.
     */
    store?: { url: string; prefix: string };
  } = {},
): Promise<System> {
  const closers: (() => Promise<unknown>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    const server = inject('pgServerUrl');
    const scratch = async (name: string): Promise<string> => {
      const db = await createScratchDatabase(server, `sys_${name}`);
      closers.push(() => db.drop());
      return db.url;
    };
    // The apps must know the proxy's address before it starts: its port is held until it listens.
    const reserved = await reservePort();
    closers.push(() => reserved.release());
    const proxyPort = reserved.port;
    const apiBaseUrl = `http://127.0.0.1:${proxyPort}`;
    // Every request comes from 127.0.0.1 and Redis outlives the run, so each system counts failed
    // logins under its own prefix (as a deployment of its own would), or test files running side by
    // side, and runs a minute apart, would add up to one client's limit. The first wait is long
    // enough that a loaded machine cannot outwait it between two requests of a test.
    const loginThrottle = { ...DEFAULT_LOGIN_THROTTLE, keyPrefix: `test:${randomUUID()}:`, firstWaitSeconds: 60 };
    const common = {
      port: 0,
      host: '127.0.0.1',
      sessionSecrets: [SESSION_SECRET],
      shutdownGraceMs: 2_000,
      logLevel: 'silent',
      redisUrl: inject('redisUrl'),
      loginThrottle,
    };
    // SYSTEM_LOG_LEVEL=error shows the apps' own logs when a test needs explaining.
    const silent = (name: string) => createLogger(name, process.env.SYSTEM_LOG_LEVEL ?? 'silent');
    const urls = {
      monolith: await scratch('monolith'),
      auth: await scratch('auth'),
      listings: await scratch('listings'),
      orders: await scratch('orders'),
      strangler: await scratch('strangler'),
    };

    const monolith = await startMonolith(
      { ...common, databaseUrl: urls.monolith, secureCookies: false, seedWhenEmpty: opts.seed ?? false, apiBaseUrl },
      silent('monolith'),
    );
    closers.push(() => monolith.close());
    const services = {
      auth: await startAuthService({ ...common, databaseUrl: urls.auth, secureCookies: false }, silent('auth')),
      listings: await startListingsService({ ...common, databaseUrl: urls.listings }, silent('listings')),
      orders: await startOrdersService({ ...common, databaseUrl: urls.orders, apiBaseUrl }, silent('orders')),
    };
    for (const s of SERVICES) closers.push(() => services[s].close());

    const pool = (url: string): pg.Pool => {
      const p = new pg.Pool({ connectionString: url, max: 6 });
      p.on('error', () => {});
      closers.push(() => p.end());
      return p;
    };
    const monolithPool = pool(urls.monolith);
    // The reference migration's mapping, from the file `npm start` and the deployed replicator read.
    const mappings = loadDataMapping(DATA_MAPPING_FILE);
    const data = Object.fromEntries(
      SERVICES.map((s) => [s, { mapping: mappings.for(s), pools: { monolith: monolithPool, service: pool(urls[s]) } }]),
    ) as Record<ServiceName, ServiceData>;
    const routes = renderRouteTable(preset, {
      monolith: monolith.url,
      auth: services.auth.url,
      listings: services.listings.url,
      orders: services.orders.url,
    });
    // As `npm start` does: each service's rows copied, its writer set as the table routes it.
    for (const s of SERVICES) await alignWriter(data[s], routes);
    // The replicator as `npm start` runs it, with its status listener: shadow copies wait on its
    // /watermark (one machine, one clock: no margin).
    const sync = await startSyncServer(Object.values(data), {
      port: 0,
      host: '127.0.0.1',
      intervalMs: 20,
      log: createLogger('strangler-sync', 'silent'),
    });
    closers.push(() => sync.close());
    const replicator = sync.replicator;

    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'system-'));
    closers.push(() => fs.rm(dir, { recursive: true, force: true }));
    const routesFile = path.join(dir, 'routes.yaml');
    await fs.writeFile(routesFile, routes);
    await reserved.release();
    const proxy = await startProxy(
      loadProxyConfig({
        ROUTES_FILE: routesFile,
        ...(opts.store
          ? {
              ROUTES_STORE_URL: opts.store.url,
              ROUTES_STORE_PREFIX: opts.store.prefix,
              // The rendered table is the truth at start; changes are announced, the poll is the backstop and the figures' report.
              ROUTES_STORE_SEED: 'replace',
              ROUTES_POLL_MS: '200',
            }
          : {}),
        PROXY_PORT: String(proxyPort),
        ADMIN_PORT: '0',
        ADMIN_TOKEN,
        SHUTDOWN_GRACE_MS: '2000',
        STRANGLER_DATABASE_URL: urls.strangler,
        SYNC_STATUS_URL: sync.url,
        SHADOW_CLOCK_MARGIN_MS: '0',
        SESSION_COOKIE,
      }),
      createLogger('strangler-proxy', 'silent'),
    );
    closers.push(() => proxy.close());

    return {
      preset,
      url: proxy.url,
      adminUrl: proxy.adminUrl,
      routesFile,
      routesStore: opts.store,
      databaseUrls: urls,
      proxy,
      admin: new ProxyAdminClient(proxy.adminUrl, ADMIN_TOKEN),
      monolith,
      services,
      data,
      replicator,
      writerDb: (service) => {
        const group = proxy.store.current.routes.find((r) => r.group === service);
        return group?.mode === 'service' ? data[service].pools.service : monolithPool;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
