import fs from 'node:fs';
import path from 'node:path';
import type { StackConfig } from './config.ts';
import { LOCAL_ADMIN_TOKEN, repoRoot } from './config.ts';
import { databaseUrl } from './database-url.ts';
import { parse, parseDocument } from 'yaml';
import { SESSION_COOKIE } from '@strangler/service-kit/cookies';
import { renderRouteTable, SERVICES, type Preset, type ServiceName } from '@strangler/reference-migration';

/** One process of the local stack. */
export interface Component {
  name: string;
  /** The database it owns, created on the shared server before it starts. */
  database?: string;
  /** Its entry script, relative to the repository root (the same command its container runs). */
  script: string;
  args?: string[];
  /** Where it serves. */
  url: string;
  /** Polled until 200 before the next component starts. */
  readyUrl: string;
  /** Prepares files it needs (the route table) before it starts. */
  prepare?(ctx: { serverUrl: string; controlSocket: string }): Promise<void>;
  env(ctx: { serverUrl: string; config: StackConfig }): Record<string, string>;
  /** Lines printed once everything is up. */
  banner?(): string[];
}

interface DemoAccount {
  email: string;
  password: string;
}

function demoLogins(): string[] {
  const accounts = JSON.parse(fs.readFileSync(path.join(repoRoot, 'monolith/demo-accounts.json'), 'utf8')) as Record<string, DemoAccount>;
  return Object.entries(accounts).map(([role, a]) => `  ${role.padEnd(9)} ${a.email.padEnd(26)} password: ${a.password}`);
}

const local = (port: number): string => `http://127.0.0.1:${port}`;
const DEFAULT_PRESET: Preset = 'mixed';

/**
 * Writes the route table from the preset when one is asked for, or when there is no table yet; an
 * existing table is kept otherwise: it holds the user's flips.
 */
async function renderRoutes(config: StackConfig): Promise<void> {
  const urls = {
    monolith: local(config.monolithPort),
    ...Object.fromEntries(SERVICES.map((s) => [s, local(config.servicePorts[s])])),
  } as Record<'monolith' | ServiceName, string>;
  if (fs.existsSync(config.routesFile) && !config.preset) return repointUpstreams(config.routesFile, urls);
  await fs.promises.mkdir(path.dirname(config.routesFile), { recursive: true });
  await fs.promises.writeFile(config.routesFile, renderRouteTable(config.preset ?? DEFAULT_PRESET, urls));
}

/**
 * A kept table's upstreams for the apps this stack starts, at the ports it starts them on: a
 * local pipeline run moved one to its green copy's port, which is gone once the stack stopped.
 */
export async function repointUpstreams(file: string, urls: Record<string, string>): Promise<void> {
  const text = await fs.promises.readFile(file, 'utf8');
  const doc = parseDocument(text);
  const moved = Object.entries(urls).filter(
    ([name, url]) => doc.hasIn(['upstreams', name, 'url']) && doc.getIn(['upstreams', name, 'url']) !== url,
  );
  if (!moved.length) return;
  for (const [name, url] of moved) doc.setIn(['upstreams', name, 'url'], url);
  await fs.promises.writeFile(file, doc.toString());
}

/** Every app's database URL, by the variable the `strangler data` commands read it from. */
function databaseVariables(serverUrl: string, config: StackConfig): Record<string, string> {
  return {
    MONOLITH_DATABASE_URL: databaseUrl(serverUrl, `${config.databasePrefix}monolith`),
    ...Object.fromEntries(SERVICES.map((s) => [`${s.toUpperCase()}_DATABASE_URL`, databaseUrl(serverUrl, `${config.databasePrefix}${s}`)])),
  };
}

/**
 * Tells the `strangler` CLI where the running stack is, so `npm run strangler -- data switch orders
 * --to service --reason …` needs no flags. Local development values only (the embedded server's
 * fixed password, the development admin token), readable by the owner alone.
 */
async function writeStackFile(serverUrl: string, controlSocket: string, config: StackConfig): Promise<void> {
  const content = {
    note: 'Written by npm start for the strangler CLI (local development values), anew at every start.',
    env: {
      ROUTES_FILE: config.routesFile,
      ...routesStore(config),
      PROXY_URL: local(config.proxyPort),
      PROXY_ADMIN_URLS: local(config.adminPort),
      ADMIN_TOKEN: config.adminToken,
      // Where `strangler pipeline` asks the stack to start a green copy of an app and promote it.
      STACK_CONTROL_SOCKET: controlSocket,
      SYNC_URL: local(config.syncPort),
      DATA_MAPPING: config.dataMapping,
      STRANGLER_DATABASE_URL: databaseUrl(serverUrl, `${config.databasePrefix}strangler`),
      ...databaseVariables(serverUrl, config),
    },
  };
  await fs.promises.writeFile(config.stackFile, JSON.stringify(content, null, 2), { mode: 0o600 });
}

/**
 * With Redis, the proxy serves the route table from a shared store (what a fleet does), and the CLI
 * changes it there (`strangler flip`, `data switch`). The file stays the truth at start — the
 * proxy puts it into the store, audited, when it differs — and the proxy writes each table it swaps
 * in back to the file, so a restart keeps what was flipped. One store per database prefix.
 */
function routesStore(config: StackConfig): Record<string, string> {
  return config.redisUrl ? { ROUTES_STORE_URL: config.redisUrl, ROUTES_STORE_PREFIX: `strangler:${config.databasePrefix}routes` } : {};
}

/** The components, in start order: the monolith, the services, the replicator, and the proxy in front of them last. */
export function components(config: StackConfig): Component[] {
  const proxyUrl = local(config.proxyPort);
  const common = {
    SESSION_SECRET: config.sessionSecret,
    LOG_LEVEL: config.logLevel,
    ...(config.redisUrl ? { REDIS_URL: config.redisUrl } : {}),
  };
  const service = (name: ServiceName): Component => ({
    name,
    database: `${config.databasePrefix}${name}`,
    script: `extracted/${name}/src/server.ts`,
    url: local(config.servicePorts[name]),
    readyUrl: `${local(config.servicePorts[name])}/readyz`,
    env: ({ serverUrl }) => ({
      DATABASE_URL: databaseUrl(serverUrl, `${config.databasePrefix}${name}`),
      PORT: String(config.servicePorts[name]),
      ...common,
      // Orders reserve stock through the proxy, from whichever side serves listings.
      ...(name === 'orders' ? { API_BASE_URL: proxyUrl } : {}),
    }),
  });
  return [
    {
      name: 'monolith',
      database: `${config.databasePrefix}monolith`,
      script: 'monolith/src/server.ts',
      url: local(config.monolithPort),
      readyUrl: `${local(config.monolithPort)}/readyz`,
      env: ({ serverUrl }) => ({
        DATABASE_URL: databaseUrl(serverUrl, `${config.databasePrefix}monolith`),
        PORT: String(config.monolithPort),
        API_BASE_URL: proxyUrl,
        ...common,
      }),
    },
    ...SERVICES.map(service),
    {
      name: 'sync',
      script: 'strangler-data/src/main.ts',
      url: local(config.syncPort),
      readyUrl: `${local(config.syncPort)}/healthz`,
      prepare: () => renderRoutes(config),
      env: ({ serverUrl }) => ({
        ...databaseVariables(serverUrl, config),
        DATA_MAPPING: config.dataMapping,
        SYNC_HOST: '127.0.0.1',
        SYNC_PORT: String(config.syncPort),
        // Before its first round: each service backfilled once, its writer set as the route table routes it.
        SYNC_ALIGN_TO: config.routesFile,
        // 250 ms between idle rounds, not 100: each round asks every service's capture tables both
        // ways whether anything changed, which cost the replicator 3 % of a core and PostgreSQL as
        // much again (bench:load, 250 users) — CPU the users' requests need on a 2-core machine; a
        // write after a quiet moment still reaches the other side within a quarter of a second.
        SYNC_INTERVAL_MS: '250',
        LOG_LEVEL: config.logLevel,
      }),
    },
    {
      name: 'proxy',
      // Shadow results, shared by every proxy instance (the report reads them from here).
      database: `${config.databasePrefix}strangler`,
      script: 'strangler-proxy/src/main.ts',
      url: proxyUrl,
      readyUrl: `${local(config.adminPort)}/__strangler/readyz`,
      prepare: ({ serverUrl, controlSocket }) => writeStackFile(serverUrl, controlSocket, config),
      env: ({ serverUrl }) => ({
        ROUTES_FILE: config.routesFile,
        ...routesStore(config),
        ...(config.redisUrl ? { ROUTES_STORE_SEED: 'replace', ROUTES_FILE_MIRROR: 'true' } : {}),
        PROXY_PORT: String(config.proxyPort),
        ADMIN_PORT: String(config.adminPort),
        ADMIN_TOKEN: config.adminToken,
        // A user's canary side follows their session (the apps' cookie), not the browser they use.
        SESSION_COOKIE,
        STRANGLER_DATABASE_URL: databaseUrl(serverUrl, `${config.databasePrefix}strangler`),
        // Shadow copies wait on the replicator's watermark, so a read right after a write is not taken
        // for a difference; one machine, one clock: no margin needed.
        SYNC_STATUS_URL: local(config.syncPort),
        SHADOW_CLOCK_MARGIN_MS: '0',
        LOG_LEVEL: config.logLevel,
      }),
      banner: () => [
        `Cacao Market: ${proxyUrl}   (through the strangler proxy; the monolith itself is on :${config.monolithPort})`,
        `Proxy admin:  ${local(config.adminPort)}/__strangler/   (shadow-diff report; also routes, explain, metrics)`,
        `Admin token:  ${config.adminToken === LOCAL_ADMIN_TOKEN ? LOCAL_ADMIN_TOKEN : 'the ADMIN_TOKEN you set'}   (log in to the report with it; tools send Authorization: Bearer <token>)`,
        `Route table:  ${path.relative(process.cwd(), config.routesFile) || config.routesFile}   (${config.preset ? `preset ${config.preset}` : 'kept from the last run, or preset mixed'}: ${groupsLine(config)})`,
        `Replicator:   ${local(config.syncPort)}/status   (npm run strangler -- data status)`,
        `Shadow diffs: npm run strangler -- report   (or the admin page above)`,
        `Flip a group: npm run strangler -- data switch orders --to service --reason "…"   (freezes its writes, moves the data's writer, flips, unfreezes)`,
        config.redisUrl
          ? `Shared table: in Redis (${routesStore(config).ROUTES_STORE_PREFIX}): npm run strangler -- flip GROUP --to MODE --reason "…", history, status`
          : 'Note: REDIS_URL is not set, so each app keeps its own logout list: a logout on one side does not end the session on the other.',
        'Demo logins:',
        ...demoLogins(),
      ],
    },
  ];
}

/** `auth → service, listings → service, orders → monolith`, as the table on disk says. */
function groupsLine(config: StackConfig): string {
  const groups = (parse(fs.readFileSync(config.routesFile, 'utf8')) as { groups?: Record<string, { mode?: string }> }).groups ?? {};
  return SERVICES.map((s) => `${s} → ${groups[s]?.mode ?? '?'}`).join(', ');
}
