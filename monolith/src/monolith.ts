import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { createApp } from './app.ts';
import { postgresRevocations } from '@strangler/service-kit';
import { SessionTokens } from '@strangler/service-kit';
import { createDatabase, type Database } from '@strangler/service-kit';
import { migrate } from '@strangler/service-kit';
import { seedIfEmpty } from './seed/seed.ts';
import type { MonolithConfig } from './config.ts';
import { closeGracefully } from '@strangler/service-kit';
import { MIGRATIONS_DIR } from './db/migrations-dir.ts';

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
  const app = createApp({ db, tokens: new SessionTokens(config.sessionSecrets), revocations: postgresRevocations(db), secureCookies: config.secureCookies }, log);
  const server = app.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // Node's defaults, stated: a slow client cannot hold a socket open forever.
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return {
    url: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`,
    server,
    db,
    async close() {
      await closeGracefully(server, config.shutdownGraceMs);
      await db.close();
    },
  };
}
