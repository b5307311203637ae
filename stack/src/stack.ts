import net from 'node:net';
import path from 'node:path';
import { components as defaultComponents, type Component } from './components.ts';
import type { StackConfig } from './config.ts';
import { repoRoot } from './config.ts';
import { ensureDatabase } from './databases.ts';
import { startPostgres, type PostgresServer } from './postgres-server.ts';
import { ProcessGroup } from './process-group.ts';

export interface RunningStack {
  /** Base URL of each component, by name. */
  urls: Record<string, string>;
  banner: string[];
  postgres: PostgresServer;
  stop(): Promise<void>;
}

/**
 * Brings the stack up: PostgreSQL (embedded unless DATABASE_URL), each component's database, then
 * each component in order, once the previous one answers its health check.
 */
export async function startStack(
  config: StackConfig,
  opts: { log: (line: string) => void; onUnexpectedExit: (name: string, code: number | null) => void; components?: Component[] },
): Promise<RunningStack> {
  const list = opts.components ?? defaultComponents(config);
  // Before anything starts (the database included): a port in use means another stack is running,
  // and would let another process answer a component's health check.
  for (const c of list) for (const url of new Set([c.url, c.readyUrl])) await assertPortFree(url, c.name);
  const postgres = await startPostgres(config.databaseUrl, {
    dataDir: config.embeddedDataDir,
    fallbackDataDir: config.embeddedFallbackDataDir,
    port: config.embeddedPort,
    log: (l) => opts.log(`[postgres] ${l}`),
  });
  const group = new ProcessGroup({ log: opts.log, onUnexpectedExit: opts.onUnexpectedExit });
  const stop = async (): Promise<void> => {
    await group.stop();
    await postgres.stop();
  };
  const urls: Record<string, string> = {};
  const banner: string[] = [];
  try {
    for (const c of list) {
      if (c.database) await ensureDatabase(postgres.url, c.database);
      await c.prepare?.({ serverUrl: postgres.url });
      await group.start({
        name: c.name,
        script: path.join(repoRoot, c.script),
        ...(c.args ? { args: c.args } : {}),
        env: c.env({ serverUrl: postgres.url, config }),
        readyUrl: c.readyUrl,
      });
      urls[c.name] = c.url;
      banner.push(...(c.banner?.() ?? []));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { urls, banner, postgres, stop };
}

async function assertPortFree(url: string, name: string): Promise<void> {
  const { hostname, port } = new URL(url);
  const inUse = await new Promise<boolean>((resolve) => {
    const socket = net.connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (inUse)
    throw new Error(
      `port ${port} (for ${name}) is already in use — is another \`npm start\` running? Stop it, or choose other ports (see README)`,
    );
}
