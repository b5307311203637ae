import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { outsideCloneDir, repoRoot } from '../config.ts';
import { startPostgres } from '../postgres-server.ts';
import type {} from './provided-context.ts';
import { freePort } from '../free-port.ts';

/**
 * vitest globalSetup: one PostgreSQL server for the whole run — DATABASE_URL when set (CI uses the
 * machine's), else a throwaway embedded server on a free port, deleted afterwards.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const name = `test-postgres-${randomBytes(4).toString('hex')}`;
  const server = await startPostgres(process.env.DATABASE_URL || undefined, {
    dataDir: path.join(repoRoot, '.data', name),
    // As root in a clone the postgres user cannot enter (like /root).
    fallbackDataDir: path.join(outsideCloneDir, name),
    port: await freePort(),
    ephemeral: true,
  });
  project.provide('pgServerUrl', server.url);
  // The machine's Redis (CI exports REDIS_URL); Redis has no embedded fallback.
  project.provide('redisUrl', process.env.REDIS_URL || 'redis://127.0.0.1:6379');
  return () => server.stop();
}
