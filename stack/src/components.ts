import fs from 'node:fs';
import path from 'node:path';
import type { StackConfig } from './config.ts';
import { repoRoot } from './config.ts';
import { databaseUrl } from './database-url.ts';

/** One process of the local stack. The proxy and each extracted service join as one more entry. */
export interface Component {
  name: string;
  /** The database it owns, created on the shared server before it starts. */
  database?: string;
  /** Its entry script, relative to the repository root (the same command its container runs). */
  script: string;
  port: number;
  /** Health path polled until 200 before the next component starts. */
  readyPath: string;
  env(ctx: { serverUrl: string; config: StackConfig }): Record<string, string>;
  /** Lines printed once everything is up. */
  banner?(url: string): string[];
}

interface DemoAccount {
  email: string;
  password: string;
}

function demoLogins(): string[] {
  const accounts = JSON.parse(fs.readFileSync(path.join(repoRoot, 'monolith/demo-accounts.json'), 'utf8')) as Record<string, DemoAccount>;
  return Object.entries(accounts).map(([role, a]) => `  ${role.padEnd(9)} ${a.email.padEnd(26)} password: ${a.password}`);
}

/** The components, in start order. */
export function components(config: StackConfig): Component[] {
  return [
    {
      name: 'monolith',
      database: `${config.databasePrefix}monolith`,
      script: 'monolith/src/server.ts',
      port: config.monolithPort,
      readyPath: '/readyz',
      env: ({ serverUrl }) => ({
        DATABASE_URL: databaseUrl(serverUrl, `${config.databasePrefix}monolith`),
        PORT: String(config.monolithPort),
        SESSION_SECRET: config.sessionSecret,
        LOG_LEVEL: config.logLevel,
      }),
      banner: (url) => [`Cacao Market (monolith): ${url}`, 'Demo logins:', ...demoLogins()],
    },
  ];
}
