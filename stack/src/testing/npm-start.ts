import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { repoRoot } from '../config.ts';
import { freeStackPorts, type StackPorts } from '../free-port.ts';
import type {} from './provided-context.ts';

/** What a test's `npm start` is given; any other variable may be added. */
export interface StackEnv {
  PATH: string;
  DATABASE_URL: string;
  REDIS_URL: string;
  STRANGLER_ROUTES: string;
  [name: string]: string;
}

/** `npm start` run as a user runs it, in a test: its own ports, databases (by prefix) and folder. */
export interface NpmStart {
  child: ChildProcess;
  /** The environment it was started with (PATH, the test's PostgreSQL and Redis, its ports, …). */
  env: StackEnv;
  ports: StackPorts;
  /** Its folder: the route table and stack.json. */
  dir: string;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  exited: Promise<number | null>;
  /** Until its banner's last line, or it exits, or `timeoutMs`; true when it is up. */
  ready(timeoutMs?: number): Promise<boolean>;
}

/**
 * Spawns `stack/src/start.ts` on free ports, databases named with `prefix`, the test's PostgreSQL
 * and Redis, preset mixed (override any variable with `env`).
 */
export async function spawnNpmStart(prefix: string, env: Record<string, string>): Promise<NpmStart> {
  const { ports, env: portEnv } = await freeStackPorts();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const full: StackEnv = {
    PATH: process.env.PATH ?? '',
    DATABASE_URL: inject('pgServerUrl'),
    REDIS_URL: inject('redisUrl'),
    STRANGLER_DB_PREFIX: prefix,
    STRANGLER_PRESET: 'mixed',
    ...portEnv,
    STRANGLER_ROUTES: path.join(dir, 'routes.yaml'),
    LOG_LEVEL: 'warn',
    ...env,
  };
  const child = spawn(process.execPath, [path.join(repoRoot, 'stack/src/start.ts')], { env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const up = (): boolean => output.includes('Ctrl-C to stop');
  return {
    child,
    env: full,
    ports,
    dir,
    output: () => output,
    exited,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!up() && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      return up();
    },
  };
}
