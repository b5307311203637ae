import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { createDatabase, createRevocations, migrate, serve, SessionTokens, type Database } from '@strangler/service-kit';
import { createApp } from './app.ts';
import type { MonolithConfig } from './config.ts';
import { MIGRATIONS_DIR } from './db/migrations-dir.ts';
import { seedIfEmpty } from './seed/seed.ts';

export interface RunningMonolith {
  /** http://host:port, with the port actually bound. */
  url: string;
  server: Server;
  db: Database;
  /** Stops accepting, lets requests in flight finish (up to the grace period), closes the pool. */
  close(): Promise<void>;
}

/** Migrates, seeds an empty database when configured to, and starts listening. */
export async function startMonolith(config: MonolithConfig, log: Logger): Promise<RunningMonolith> {
  const db = createDatabase({ connectionString: config.databaseUrl });
  try {
    const { applied } = await migrate(db, MIGRATIONS_DIR);
    if (applied.length) log.info({ applied }, 'migrations applied');
    if (config.seedWhenEmpty) {
      const seeded = await seedIfEmpty(db);
      if (seeded) log.info(seeded, 'empty database seeded');
    }
  } catch (err) {
    await db.close();
    throw err;
  }
  const revocations = createRevocations(config.redisUrl, db);
  const app = createApp({ db, tokens: new SessionTokens(config.sessionSecrets), revocations, secureCookies: config.secureCookies }, log);
  const serving = await serve(app, { port: config.port, host: config.host, graceMs: config.shutdownGraceMs });
  return {
    url: serving.url,
    server: serving.server,
    db,
    async close() {
      await serving.close();
      await revocations.close();
      await db.close();
    },
  };
}
