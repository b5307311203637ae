import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import { startMonolith } from '@strangler/monolith';
import { startListingsService } from '@strangler/listings';
import { loadProxyConfig, startProxy } from '@strangler/proxy';
import { createLogger, type Queryable } from '@strangler/service-kit';
import { createScratchDatabase, type ScratchDatabase } from '@strangler/stack';
import type {} from '@strangler/stack/testing/provided-context';

/** Who serves the routes under test: the monolith alone, or the extracted services behind the proxy. */
export type TargetName = 'monolith' | 'services';

export interface ContractTarget {
  name: TargetName;
  /** The proxy's URL: every request of a contract goes through it, as users' do. */
  url: string;
  /** The database holding `users` (the monolith's, until auth is extracted), for admin fixtures. */
  db: Queryable;
}

const SESSION_SECRET = 'contract-session-secret-of-32-chars-or-more';

// The routes each service takes over when the target is `services`.
const SERVICE_ROUTES = `  - name: suppliers
    match: { path: /api/suppliers/* }
    mode: service
    target: listings
  - name: listings
    match: { path: /api/listings/* }
    mode: service
    target: listings
  - name: reservations
    match: { path: /api/reservations/* }
    mode: service
    target: listings`;

/** The apps on scratch databases behind a proxy of their own; `seed` fills the monolith with the demo data. */
export async function startTarget(name: TargetName, opts: { seed?: boolean } = {}): Promise<ContractTarget & { close(): Promise<void> }> {
  const closers: (() => Promise<void>)[] = [];
  const scratch = async (prefix: string): Promise<ScratchDatabase> => {
    const db = await createScratchDatabase(inject('pgServerUrl'), prefix);
    closers.push(() => db.drop());
    return db;
  };
  const common = { port: 0, host: '127.0.0.1', sessionSecrets: [SESSION_SECRET], shutdownGraceMs: 2_000, logLevel: 'silent', redisUrl: inject('redisUrl') };
  const monolith = await startMonolith({ ...common, databaseUrl: (await scratch('contract_monolith')).url, secureCookies: false, seedWhenEmpty: opts.seed ?? false, apiBaseUrl: undefined }, createLogger('monolith', 'silent'));
  closers.push(() => monolith.close());
  const upstreams = [`  monolith: { url: "${monolith.url}" }`];
  let routes = '  []';
  if (name === 'services') {
    const listings = await startListingsService({ ...common, databaseUrl: (await scratch('contract_listings')).url }, createLogger('listings', 'silent'));
    closers.push(() => listings.close());
    upstreams.push(`  listings: { url: "${listings.url}" }`);
    routes = SERVICE_ROUTES;
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'contract-'));
  closers.push(() => fs.rm(dir, { recursive: true, force: true }));
  const routesFile = path.join(dir, 'routes.yaml');
  await fs.writeFile(routesFile, `version: 1\nupstreams:\n${upstreams.join('\n')}\nroutes:\n${routes}\ndefault: monolith\n`);
  const proxy = await startProxy(loadProxyConfig({ ROUTES_FILE: routesFile, PROXY_PORT: '0', ADMIN_PORT: '0', SHUTDOWN_GRACE_MS: '2000' }), createLogger('strangler-proxy', 'silent'));
  closers.push(() => proxy.close());
  return {
    name,
    url: proxy.url,
    db: monolith.db,
    async close() {
      for (const close of closers.reverse()) await close();
    },
  };
}

/**
 * One contract, run against every target: the same requests and the same assertions, whoever
 * serves them. `body` receives a getter for the running target.
 */
export function describeTargets(title: string, body: (target: () => ContractTarget) => void, targets: TargetName[] = ['monolith', 'services']): void {
  for (const name of targets) {
    describe(`${title} [${name}]`, () => {
      let target: (ContractTarget & { close(): Promise<void> }) | undefined;
      beforeAll(async () => {
        target = await startTarget(name);
      });
      afterAll(() => target?.close());
      body(() => target!);
    });
  }
}
