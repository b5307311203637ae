import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The extracted services, in the order they start. */
export const SERVICES = ['auth', 'listings', 'orders'] as const;
export type ServiceName = (typeof SERVICES)[number];

/**
 * A service group's mode: `monolith`, `shadow` (the monolith answers, a copy goes to the service and
 * is compared) or `service`. The writes of its rows follow: the service writes only in `service`.
 */
export type GroupMode = 'monolith' | 'shadow' | 'service';

/** Three moments of the migration: before it, in the middle of it, after it. */
export const PRESETS = {
  /** Everything still served by the monolith. */
  monolith: { auth: 'monolith', listings: 'monolith', orders: 'monolith' },
  /** A migration in progress: auth and listings extracted, orders answered by the monolith and shadowed to its service. */
  mixed: { auth: 'service', listings: 'service', orders: 'shadow' },
  /** Every route group served by its service. */
  services: { auth: 'service', listings: 'service', orders: 'service' },
} as const satisfies Record<string, Record<ServiceName, GroupMode>>;
export type Preset = keyof typeof PRESETS;

export function isPreset(name: string): name is Preset {
  return Object.hasOwn(PRESETS, name);
}

const TEMPLATE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../routes/local.yaml');

/** The local route table for a preset: each service's group in its mode, and the apps' URLs. */
export function renderRouteTable(preset: Preset, urls: Record<'monolith' | ServiceName, string>): string {
  const values: Record<string, string> = {};
  for (const [name, url] of Object.entries(urls)) values[`${name}.url`] = url;
  for (const [name, mode] of Object.entries(PRESETS[preset])) values[`${name}.mode`] = mode;
  return fs.readFileSync(TEMPLATE, 'utf8').replace(/\{\{([a-z]+\.(?:url|mode))\}\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`${TEMPLATE}: nothing to fill ${whole} with`);
    return value;
  });
}
