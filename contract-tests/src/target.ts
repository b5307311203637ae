import type { Preset } from '@strangler/reference-migration';
import { deploymentUrl } from './deployment.ts';
import { startSystem } from './system.ts';

export interface JourneyTarget {
  /** Where the browser goes: a proxy in front of the apps. */
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * E2E_BASE_URL when set (a running stack, a proxy, a blue/green test listener), else a seeded
 * system of its own with the route table in `preset`'s state: the journeys always go through the
 * proxy, as users do. They only use the demo accounts and data they create, so they pass against
 * any seeded deployment.
 */
export async function journeyTarget(preset: Preset): Promise<JourneyTarget> {
  const external = deploymentUrl();
  if (external) return { baseUrl: external, close: async () => {} };
  const system = await startSystem(preset, { seed: true });
  return { baseUrl: system.url, close: () => system.close() };
}

/** The routing states the journeys run in: one against an external deployment, all three otherwise. */
export const journeyPresets = (): Preset[] => (deploymentUrl() ? ['monolith'] : ['monolith', 'mixed', 'services']);
