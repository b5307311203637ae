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
  const postgres = await startPostgres(config.databaseUrl, { dataDir: config.embeddedDataDir, port: config.embeddedPort, log: (l) => opts.log(`[postgres] ${l}`) });
  const group = new ProcessGroup({ log: opts.log, onUnexpectedExit: opts.onUnexpectedExit });
  const stop = async (): Promise<void> => {
    await group.stop();
    await postgres.stop();
  };
  const urls: Record<string, string> = {};
  const banner: string[] = [];
  try {
    for (const c of opts.components ?? defaultComponents(config)) {
      if (c.database) await ensureDatabase(postgres.url, c.database);
      const url = `http://127.0.0.1:${c.port}`;
      await group.start({
        name: c.name,
        script: path.join(repoRoot, c.script),
        env: c.env({ serverUrl: postgres.url, config }),
        readyUrl: `${url}${c.readyPath}`,
      });
      urls[c.name] = url;
      banner.push(...(c.banner?.(url) ?? []));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { urls, banner, postgres, stop };
}
