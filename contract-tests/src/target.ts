import { inject } from 'vitest';
import { createScratchDatabase } from '@strangler/stack';
import type {} from '@strangler/stack/testing/provided-context';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startMonolith } from '@strangler/monolith';
import { createLogger } from '@strangler/service-kit';
import { loadProxyConfig, startProxy } from '@strangler/proxy';

export interface JourneyTarget {
  /** Where the browser goes: the monolith, or later the proxy in front of it. */
  baseUrl: string;
  close(): Promise<void>;
}

const SESSION_SECRET = 'journey-session-secret-of-at-least-32-chars';

/**
 * E2E_BASE_URL when set (a running stack, a proxy, a blue/green test listener), else a seeded
 * monolith of its own on a scratch database behind a strangler proxy of its own: the journeys
 * always go through the proxy, as users do. They only use the demo accounts and data they create,
 * so they pass against any seeded deployment.
 */
export async function journeyTarget(): Promise<JourneyTarget> {
  const external = process.env.E2E_BASE_URL;
  if (external) return { baseUrl: external.replace(/\/$/, ''), close: async () => {} };
  const scratch = await createScratchDatabase(inject('pgServerUrl'), 'journeys');
  const running = await startMonolith(
    {
      databaseUrl: scratch.url,
      port: 0,
      host: '127.0.0.1',
      sessionSecrets: [SESSION_SECRET],
      secureCookies: false,
      seedWhenEmpty: true,
      shutdownGraceMs: 2_000,
      logLevel: 'silent',
      redisUrl: undefined,
    },
    createLogger('monolith', 'silent'),
  );
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'journeys-'));
  const routesFile = path.join(dir, 'routes.yaml');
  await fs.writeFile(routesFile, `version: 1\nupstreams:\n  monolith: { url: "${running.url}" }\nroutes:\n  - name: api\n    match: { path: /api/* }\n    mode: monolith\ndefault: monolith\n`);
  const proxy = await startProxy(loadProxyConfig({ ROUTES_FILE: routesFile, PROXY_PORT: '0', ADMIN_PORT: '0', SHUTDOWN_GRACE_MS: '2000' }), createLogger('strangler-proxy', 'silent'));
  return {
    baseUrl: proxy.url,
    async close() {
      await proxy.close();
      await running.close();
      await scratch.drop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
