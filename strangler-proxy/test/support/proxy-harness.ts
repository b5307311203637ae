import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadProxyConfig } from '../../src/config/proxy-config.ts';
import type { Logger } from 'pino';
import { createLogger } from '@strangler/service-kit/logger';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy-server.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
/** Headers that authenticate an admin API call (every admin path but the probes needs them). */
export const ADMIN_AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

export interface TestProxy extends RunningProxy {
  routesFile: string;
  /** Replaces the route table file (as an editor would: write aside, rename over). */
  writeRoutes(yaml: string): Promise<void>;
}

/** A real proxy on 127.0.0.1:0 serving `yaml`, admin on its own port 0. */
export async function startTestProxy(
  yaml: string,
  env: Record<string, string> = {},
  log: Logger = createLogger('strangler-proxy', 'silent'),
): Promise<TestProxy> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strangler-proxy-'));
  const routesFile = path.join(dir, 'routes.yaml');
  await fs.writeFile(routesFile, yaml);
  const config = loadProxyConfig({
    ROUTES_FILE: routesFile,
    PROXY_PORT: '0',
    ADMIN_PORT: '0',
    ADMIN_TOKEN,
    SHUTDOWN_GRACE_MS: '2000',
    ...env,
  });
  const running = await startProxy(config, log);
  return {
    ...running,
    routesFile,
    async writeRoutes(text) {
      const tmp = `${routesFile}.${process.hrtime.bigint()}`;
      await fs.writeFile(tmp, text);
      await fs.rename(tmp, routesFile);
    },
    async close() {
      await running.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** A route table over named upstreams; `routes` is YAML for the routes list (indented two spaces). */
export function table(
  upstreams: Record<string, string | { url: string; extra?: string }>,
  routes: string,
  defaultUpstream = 'monolith',
): string {
  const ups = Object.entries(upstreams)
    .map(([name, u]) =>
      typeof u === 'string' ? `  ${name}: { url: ${u} }` : `  ${name}: { url: ${u.url}${u.extra ? `, ${u.extra}` : ''} }`,
    )
    .join('\n');
  return `version: 1\nupstreams:\n${ups}\nroutes:\n${routes || '  []'}\ndefault: ${defaultUpstream}\n`;
}
