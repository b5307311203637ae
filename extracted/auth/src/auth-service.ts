import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { servicePool, startApp, type RunningApp } from '@strangler/service-kit';
import { authRoutes } from './auth/auth-routes.ts';
import type { AuthConfig } from './config.ts';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../migrations');

/** Migrates the auth database and serves register, login, logout and me. */
export function startAuthService(config: AuthConfig, log: Logger): Promise<RunningApp> {
  return startApp({
    name: 'auth',
    config,
    migrationsDir: MIGRATIONS_DIR,
    log,
    database: servicePool(),
    routes: (kit) => ({ api: { '/auth': authRoutes({ ...kit, secureCookies: config.secureCookies }) } }),
  });
}
