import { startTarget } from './contract-targets.ts';

export interface JourneyTarget {
  /** Where the browser goes: a proxy in front of the apps. */
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * E2E_BASE_URL when set (a running stack, a proxy, a blue/green test listener), else a seeded
 * monolith of its own behind a strangler proxy of its own: the journeys always go through the
 * proxy, as users do. They only use the demo accounts and data they create, so they pass against
 * any seeded deployment.
 */
export async function journeyTarget(): Promise<JourneyTarget> {
  const external = process.env.E2E_BASE_URL;
  if (external) return { baseUrl: external.replace(/\/$/, ''), close: async () => {} };
  const target = await startTarget('monolith', { seed: true });
  return { baseUrl: target.url, close: () => target.close() };
}
