import fs from 'node:fs';
import path from 'node:path';
import type { StackConfig } from './config.ts';
import { repoRoot } from './config.ts';
import { databaseUrl } from './database-url.ts';

/** One process of the local stack. Each extracted service joins as one more entry. */
export interface Component {
  name: string;
  /** The database it owns, created on the shared server before it starts. */
  database?: string;
  /** Its entry script, relative to the repository root (the same command its container runs). */
  script: string;
  /** Where it serves. */
  url: string;
  /** Polled until 200 before the next component starts. */
  readyUrl: string;
  /** Prepares files it needs (the proxy's route table) before it starts. */
  prepare?(): Promise<void>;
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

/** Writes the route table from its template unless the file exists (it holds the user's edits). */
async function renderRoutes(config: StackConfig): Promise<void> {
  if (fs.existsSync(config.routesFile)) return;
  const template = await fs.promises.readFile(path.join(repoRoot, 'stack/routes/local.yaml'), 'utf8');
  await fs.promises.mkdir(path.dirname(config.routesFile), { recursive: true });
  await fs.promises.writeFile(config.routesFile, template.replaceAll('{{monolithPort}}', String(config.monolithPort)));
}

const local = (port: number): string => `http://127.0.0.1:${port}`;

/** The components, in start order: the apps first, the proxy in front of them last. */
export function components(config: StackConfig): Component[] {
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
        SESSION_SECRET: config.sessionSecret,
        LOG_LEVEL: config.logLevel,
        ...(config.redisUrl ? { REDIS_URL: config.redisUrl } : {}),
      }),
    },
    {
      name: 'proxy',
      script: 'strangler-proxy/src/main.ts',
      url: local(config.proxyPort),
      readyUrl: `${local(config.adminPort)}/__strangler/readyz`,
      prepare: () => renderRoutes(config),
      env: () => ({
        ROUTES_FILE: config.routesFile,
        PROXY_PORT: String(config.proxyPort),
        ADMIN_PORT: String(config.adminPort),
        ADMIN_TOKEN: config.adminToken,
        LOG_LEVEL: config.logLevel,
      }),
      banner: () => [
        `Cacao Market: ${local(config.proxyPort)}   (through the strangler proxy; the monolith itself is on :${config.monolithPort})`,
        `Proxy admin:  ${local(config.adminPort)}/__strangler/routes   (metrics, explain, readyz)`,
        `Route table:  ${path.relative(process.cwd(), config.routesFile) || config.routesFile}   (edit it; the proxy reloads it)`,
        ...(config.redisUrl ? [] : ['Note: REDIS_URL is not set, so each app keeps its own logout list; set it before routing to extracted services.']),
        'Demo logins:',
        ...demoLogins(),
      ],
    },
  ];
}
