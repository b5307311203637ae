import { inject } from 'vitest';
import { createLogger, type Database } from '@strangler/service-kit';
import { createScratchDatabase } from '@strangler/stack';
import type {} from '@strangler/stack/testing/provided-context';
import { startMonolith } from '../../src/monolith.ts';

export const TEST_SESSION_SECRET = 'test-session-secret-of-at-least-32-characters';

export interface TestMonolith {
  url: string;
  db: Database;
  close(): Promise<void>;
}

/** A real monolith on port 0 over its own scratch database on the run's PostgreSQL server. */
export async function startTestMonolith(opts: { seed?: boolean } = {}): Promise<TestMonolith> {
  const scratch = await createScratchDatabase(inject('pgServerUrl'), 'monolith_test');
  const running = await startMonolith(
    {
      databaseUrl: scratch.url,
      port: 0,
      host: '127.0.0.1',
      sessionSecrets: [TEST_SESSION_SECRET],
      secureCookies: false,
      seedWhenEmpty: opts.seed ?? false,
      shutdownGraceMs: 2_000,
      logLevel: 'silent',
      redisUrl: undefined,
      apiBaseUrl: undefined,
    },
    createLogger('monolith', 'silent'),
  );
  return {
    url: running.url,
    db: running.db,
    async close() {
      await running.close();
      await scratch.drop();
    },
  };
}
