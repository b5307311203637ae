import fs from 'node:fs';
import path from 'node:path';

/**
 * A running `npm start` writes `.data/stack.json` (or STRANGLER_STACK_FILE): its route table, proxy
 * admin URL and token, and database URLs. Its values fill in whatever the environment does not set,
 * so commands against the local stack need no flags. Read once, before the commands are defined.
 */
export function applyStackDefaults(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = path.resolve(env.STRANGLER_STACK_FILE ?? '.data/stack.json');
  let values: Record<string, unknown>;
  try {
    values = (JSON.parse(fs.readFileSync(file, 'utf8')) as { env?: Record<string, unknown> }).env ?? {};
  } catch {
    return undefined;
  }
  for (const [name, value] of Object.entries(values)) if (typeof value === 'string' && !env[name]) env[name] = value;
  return file;
}
