import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { components as defaultComponents, type Component } from './components.ts';
import type { StackConfig } from './config.ts';
import { repoRoot } from './config.ts';
import { ensureDatabase } from './databases.ts';
import { startPostgres, type PostgresServer } from './postgres-server.ts';
import { ProcessGroup } from './process-group.ts';
import { startStackControl } from './stack-control.ts';

/** The stack's control socket, next to stack.json (`strangler pipeline` replaces an app through it). */
export const controlSocketOf = (config: Pick<StackConfig, 'stackFile'>): string => path.join(path.dirname(config.stackFile), 'stack.sock');

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
  let control: Awaited<ReturnType<typeof startStackControl>> | undefined;
  const stop = async (): Promise<void> => {
    await control?.close();
    await group.stop();
    await postgres.stop();
  };
  const urls: Record<string, string> = {};
  const banner: string[] = [];
  try {
    await fs.promises.mkdir(path.dirname(config.stackFile), { recursive: true });
    control = await startStackControl(controlSocketOf(config), group, opts.log);
    for (const c of list) {
      if (c.database) await ensureDatabase(postgres.url, c.database);
      await c.prepare?.({ serverUrl: postgres.url, controlSocket: control.socketPath });
      await group.start({
        name: c.name,
        script: path.join(repoRoot, c.script),
        ...(c.args ? { args: c.args } : {}),
        env: c.env({ serverUrl: postgres.url, config }),
        url: c.url,
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
