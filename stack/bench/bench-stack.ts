// The stack `npm run bench:load` measures: what `npm start` runs (startStack with its components and
// settings, the proxy's access log on), on ports of its own so that a running `npm start` is left
// alone, in databases of its own (`loadbench_*`, dropped before and after, so every run starts from
// the seed), in a routing preset. Its logs go to a file, not through the terminal.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Preset } from '@strangler/reference-migration';
import { components, dropDatabase, freeStackPorts, loadStackConfig, startPostgres, startStack, type PostgresServer } from '../src/index.ts';

export const DB_PREFIX = 'loadbench_';
const APP_DATABASES = ['monolith', 'auth', 'listings', 'orders', 'strangler'];

export interface BenchStack {
  preset: Preset;
  url: string;
  adminUrl: string;
  stop(): Promise<void>;
}

/** The server the stacks run on: DATABASE_URL, or the embedded one `npm start` uses (started once for every preset). */
export function startBenchPostgres(log: (line: string) => void): Promise<PostgresServer> {
  const config = loadStackConfig();
  return startPostgres(config.databaseUrl, {
    dataDir: config.embeddedDataDir,
    fallbackDataDir: config.embeddedFallbackDataDir,
    port: config.embeddedPort,
    log: (l) => log(`[postgres] ${l}`),
  });
}

async function dropBenchDatabases(serverUrl: string): Promise<void> {
  for (const name of APP_DATABASES) await dropDatabase(serverUrl, `${DB_PREFIX}${name}`);
}

/** The bench's shared route table out of Redis again (the store is per database prefix). */
async function forgetRouteStore(redisUrl: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const keys = await redis.keys(`strangler:${DB_PREFIX}routes*`);
    if (keys.length) await redis.del(...keys);
  } catch {
    // No Redis reachable: nothing was stored there.
  } finally {
    redis.disconnect();
  }
}

/**
 * Starts the stack in `preset` on `serverUrl`. `cpuProfDir`: every app writes a V8 CPU profile
 * there when it stops (`node strangler-proxy/bench/profile-top.ts FILE` summarises one).
 */
export async function startBenchStack(
  preset: Preset,
  opts: { serverUrl: string; logFile: string; cpuProfDir?: string; onUnexpectedExit(name: string, code: number | null): void },
): Promise<BenchStack> {
  const { ports, env: portEnv } = await freeStackPorts();
  const routesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loadbench-'));
  const config = loadStackConfig({
    ...process.env,
    DATABASE_URL: opts.serverUrl,
    STRANGLER_DB_PREFIX: DB_PREFIX,
    STRANGLER_PRESET: preset,
    STRANGLER_ROUTES: path.join(routesDir, 'routes.yaml'),
    ...portEnv,
  });
  await dropBenchDatabases(opts.serverUrl);
  if (config.redisUrl) await forgetRouteStore(config.redisUrl);
  const log = fs.createWriteStream(opts.logFile, { flags: 'a' });
  log.write(`--- ${new Date().toISOString()} preset ${preset}\n`);
  const profiled = opts.cpuProfDir
    ? components(config).map((c) => ({
        ...c,
        env: (ctx: Parameters<typeof c.env>[0]) => ({
          ...c.env(ctx),
          NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${path.join(opts.cpuProfDir!, `${preset}-${c.name}`)}`,
        }),
      }))
    : undefined;
  let stopping = false;
  const stack = await startStack(config, {
    log: (line) => log.write(`${line}\n`),
    onUnexpectedExit: (name, code) => {
      if (!stopping) opts.onUnexpectedExit(name, code);
    },
    ...(profiled ? { components: profiled } : {}),
  });
  return {
    preset,
    url: stack.urls.proxy!,
    adminUrl: `http://127.0.0.1:${ports.admin}`,
    async stop() {
      stopping = true;
      await stack.stop();
      await dropBenchDatabases(opts.serverUrl);
      if (config.redisUrl) await forgetRouteStore(config.redisUrl);
      fs.rmSync(routesDir, { recursive: true, force: true });
      await new Promise((r) => log.end(r));
    },
  };
}
