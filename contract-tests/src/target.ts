import { inject } from 'vitest';
import { createScratchDatabase } from '@strangler/stack';
import type {} from '@strangler/stack/testing/provided-context';
import { createLogger, startMonolith } from '@strangler/monolith';

export interface JourneyTarget {
  /** Where the browser goes: the monolith, or later the proxy in front of it. */
  baseUrl: string;
  close(): Promise<void>;
}

const SESSION_SECRET = 'journey-session-secret-of-at-least-32-chars';

/**
 * E2E_BASE_URL when set (a running stack, a proxy, a blue/green test listener), else a seeded
 * monolith of its own on a scratch database. The journeys only use the demo accounts and data they
 * create, so they pass against any seeded deployment.
 */
export async function journeyTarget(): Promise<JourneyTarget> {
  const external = process.env.E2E_BASE_URL;
  if (external) return { baseUrl: external.replace(/\/$/, ''), close: async () => {} };
  const scratch = await createScratchDatabase(inject('pgServerUrl'), 'journeys');
  const running = await startMonolith(
    {
      databaseUrl: scratch.url,
      port: 0,
      host: '127.0.0.1',
      sessionSecrets: [SESSION_SECRET],
      secureCookies: false,
      seedWhenEmpty: true,
      shutdownGraceMs: 2_000,
      logLevel: 'silent',
    },
    createLogger('silent'),
  );
  return {
    baseUrl: running.url,
    async close() {
      await running.close();
      await scratch.drop();
    },
  };
}
