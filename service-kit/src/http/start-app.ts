import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { createLoginThrottle, DEFAULT_LOGIN_THROTTLE, type LoginThrottle } from '../auth/login-throttle.ts';
import { createRevocations, type SessionRevocations } from '../auth/revocations.ts';
import { SessionTokens } from '../auth/session-token.ts';
import type { AppConfig } from '../config/app-config.ts';
import { createDatabase, type Database, type DatabaseOptions } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { createApiApp, type ApiAppOptions } from './api-app.ts';
import { serve } from './serve.ts';

/** What an app's routers are built from. */
export interface AppKit {
  db: Database;
  tokens: SessionTokens;
  revocations: SessionRevocations;
  /** Failed logins counted and slowed, shared through Redis like the revocations. */
  loginThrottle: LoginThrottle;
  log: Logger;
  /** The app's own URL, once it listens (for an app that calls itself). */
  url(): string;
}

export interface RunningApp {
  /** http://host:port, with the port actually bound. */
  url: string;
  server: Server;
  db: Database;
  /** Its login throttle (for its Redis error count). */
  loginThrottle: LoginThrottle;
  /** Stops accepting, lets requests in flight finish (up to the grace period), closes its resources. */
  close(): Promise<void>;
}

/**
 * Starts one app the way every app starts: its database pool, its migrations, anything it prepares
 * (the monolith's seed), the shared skeleton with its routers, listening with slow-client limits.
 * Closing drains requests first, then the app's own resources, then the pool.
 */
export async function startApp(o: {
  /** The app's name: its sessions' application_name in PostgreSQL. */
  name: string;
  config: AppConfig;
  migrationsDir: string;
  log: Logger;
  prepare?: (db: Database) => Promise<void>;
  /** The pool's size, warmth and named statements (the services tune them; unset: `createDatabase`'s defaults). */
  database?: Pick<DatabaseOptions, 'max' | 'min' | 'namedStatements'>;
  routes: (kit: AppKit) => Pick<ApiAppOptions, 'api' | 'after'> & { close?: () => Promise<void> };
}): Promise<RunningApp> {
  const db = createDatabase({ ...o.database, connectionString: o.config.databaseUrl, applicationName: o.name });
  try {
    const { applied } = await migrate(db, o.migrationsDir);
    if (applied.length) o.log.info({ applied }, 'migrations applied');
    await o.prepare?.(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  let url = '';
  const loginThrottle = createLoginThrottle({
    config: o.config.loginThrottle ?? DEFAULT_LOGIN_THROTTLE,
    redisUrl: o.config.redisUrl,
    log: o.log,
  });
  const kit: AppKit = {
    db,
    tokens: new SessionTokens(o.config.sessionSecrets),
    revocations: createRevocations(o.config.redisUrl, db),
    loginThrottle,
    log: o.log,
    url: () => url,
  };
  const routes = o.routes(kit);
  const app = createApiApp({
    db,
    tokens: kit.tokens,
    revocations: kit.revocations,
    log: o.log,
    api: routes.api,
    ...(routes.after ? { after: routes.after } : {}),
  });
  const serving = await serve(app, { port: o.config.port, host: o.config.host, graceMs: o.config.shutdownGraceMs });
  url = serving.url;
  return {
    url: serving.url,
    server: serving.server,
    db,
    loginThrottle,
    async close() {
      await serving.close();
      await routes.close?.();
      await kit.revocations.close();
      await kit.loginThrottle.close();
      await db.close();
    },
  };
}
