import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createScratchDatabase, freePort, repoRoot, type ScratchDatabase } from '@strangler/stack';
import type {} from '@strangler/stack/testing/provided-context';
import { APPS, commandOf, SYNC_DATABASES, type DeployedApp } from '../src/service-catalog.ts';
import { imageFolders } from '../src/tools/image-folders.ts';

/**
 * No Docker engine runs here, so each image is tested by running what it would run, from the
 * repository root (the image's WORKDIR holds the same tree): the command the deployment gives it,
 * with the settings it gives it, against real PostgreSQL, until its health endpoint answers.
 */
const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
const IMAGES = APPS.filter((a) => a.exposure !== 'none');
const SYNC = APPS.find((a) => a.name === 'sync')!;

const scratches: ScratchDatabase[] = [];
afterAll(async () => {
  for (const s of scratches) await s.drop();
});

/** The app's catalog settings with its catalog ports swapped for free ones, and the port map. */
async function catalogSettings(app: DeployedApp): Promise<{ env: Record<string, string>; ports: Map<string, string> }> {
  const ports = new Map<string, string>();
  for (const p of [app.port, app.health.port].filter((p): p is number => p !== undefined)) ports.set(String(p), String(await freePort()));
  return { env: Object.fromEntries(Object.entries(app.env).map(([k, v]) => [k, ports.get(v) ?? v])), ports };
}

/** The app's settings (its own scratch database, loopback hosts) with its catalog ports swapped for free ones. */
async function settings(app: DeployedApp): Promise<{ env: Record<string, string>; healthUrl: string }> {
  const { env, ports } = await catalogSettings(app);
  const scratch = await createScratchDatabase(inject('pgServerUrl'), 'entrypoint');
  scratches.push(scratch);
  const extra: Record<string, string> =
    app.name === 'proxy' ? { STRANGLER_DATABASE_URL: scratch.url, ROUTES_FILE: routesFile() } : { DATABASE_URL: scratch.url };
  return {
    env: { ...env, ...extra, HOST: '127.0.0.1', PROXY_HOST: '127.0.0.1', ADMIN_HOST: '127.0.0.1' },
    healthUrl: `http://127.0.0.1:${ports.get(String(app.health.port ?? app.port))}${app.health.path}`,
  };
}

function routesFile(): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'entrypoint-')), 'routes.yaml');
  fs.writeFileSync(file, 'version: 1\nupstreams:\n  monolith: { url: "http://127.0.0.1:9" }\nroutes: []\ndefault: monolith\n');
  return file;
}

describe('the Dockerfile', () => {
  it('when built for any app, then it installs only that workspace, runs as a non-root user on Node 24, and checks health', () => {
    // Docker's official image through its ECR Public mirror (public.ecr.aws/docker/library/…): the
    // same image, without Docker Hub's anonymous pull rate limit.
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=public\.ecr\.aws\/docker\/library\/node:24-bookworm-slim$/m);
    // Multi-stage, every stage on that base: the build stage's npm cache and package files, and the folders the app does not need, stay behind.
    expect(dockerfile.match(/^FROM (.+)$/gm)).toEqual(['FROM ${NODE_IMAGE} AS deps', 'FROM ${NODE_IMAGE} AS pick', 'FROM ${NODE_IMAGE}']);
    expect(dockerfile).toMatch(/npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace "\.\/\$APP"/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/node \/src\/infra\/src\/tools\/image-folders\.ts \/src "\$APP"/);
  });
});

/** The `@strangler/*` packages the app's entry reaches through its own modules' imports: what the image runs. */
function importedWorkspaces(app: DeployedApp): Set<string> {
  const names = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/(?:from|import) '([^']+)'/g)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec));
      else if (spec.startsWith('@strangler/')) names.add(spec.split('/').slice(0, 2).join('/'));
    }
  };
  visit(path.join(repoRoot, app.folder, app.entry));
  return names;
}

const packageName = (folder: string): string =>
  (JSON.parse(fs.readFileSync(path.join(repoRoot, folder, 'package.json'), 'utf8')) as { name: string }).name;

describe('what each image holds', () => {
  it('when the proxy’s image is built, then it holds the proxy and service-kit only: no data toolkit, no replicator', () => {
    expect(imageFolders(repoRoot, 'strangler-proxy').sort()).toEqual(['service-kit', 'strangler-proxy']);
    expect(imageFolders(repoRoot, 'strangler-data').sort()).toEqual(['service-kit', 'strangler-data', 'strangler-proxy']);
  });

  it.each(APPS.map((a) => [a.name, a] as const))(
    'when %s’s image is built, then every workspace its entry imports is in it',
    (_name, app) => {
      const held = new Set(imageFolders(repoRoot, app.folder).map(packageName));
      const missing = [...importedWorkspaces(app)].filter((n) => !held.has(n));
      expect(missing).toEqual([]);
    },
  );
});

describe('the replicator’s data mapping', () => {
  it('when the catalog names the replicator’s DATA_MAPPING, then the Dockerfile copies that file into the image and it exists', () => {
    const file = SYNC.env.DATA_MAPPING!;
    const copied = [...dockerfile.matchAll(/^COPY (\S+) \1$/gm)].map((m) => m[1]!);
    expect(copied.some((dir) => file.startsWith(`${dir}/`))).toBe(true);
    expect(fs.existsSync(path.join(repoRoot, file))).toBe(true);
  });
});

/** Runs the app's command with `env` until `healthUrl` answers 200, then `whileUp`, then SIGTERM: it must exit 0. */
async function runUntilHealthy(
  app: DeployedApp,
  env: Record<string, string>,
  healthUrl: string,
  whileUp: () => Promise<void> = async () => {},
): Promise<void> {
  const [cmd, ...args] = commandOf(app);
  expect(cmd).toBe('node');
  // The image copies the app's folder (COPY ${APP} ${APP}); the entry must be inside it.
  expect(args[0]!.startsWith(`${app.folder}/`)).toBe(true);
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      ...env,
      SESSION_SECRET: 'entrypoint-test-secret-of-32-characters',
      API_BASE_URL: 'http://127.0.0.1:9',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    let ready = false;
    for (let i = 0; i < 150 && !ready && child.exitCode === null; i++) {
      ready = await fetch(healthUrl).then(
        (r) => r.status === 200,
        () => false,
      );
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ready, output).toBe(true);
    await whileUp();
    child.kill('SIGTERM');
    expect(await exited, output).toBe(0);
  } finally {
    child.kill('SIGKILL');
  }
}

/**
 * An address of this machine that is not loopback: a listener bound to 127.0.0.1 refuses it, one on
 * 0.0.0.0 answers, as a task's listener must for another task to reach it. Without a network
 * interface, 127.0.0.2 tells the two apart just as well on Linux (a 127.0.0.1 listener refuses it).
 */
function nonLoopbackAddress(): string {
  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  return external?.address ?? '127.0.0.2';
}

describe.each(IMAGES.map((a) => [a.name, a] as const))('the %s image', (_name, app) => {
  it('when its command runs with its settings against PostgreSQL, then its health endpoint answers 200, and SIGTERM exits 0', async () => {
    const { env, healthUrl } = await settings(app);
    await runUntilHealthy(app, env, healthUrl);
  });
});

describe('the replicator (the data toolkit’s image)', () => {
  it('when it runs with the deployment’s settings against the apps’ databases, then it answers /healthz and /watermark on an address other than loopback (the proxy, another task, reaches it), and SIGTERM exits 0', async () => {
    // Each database's own app makes its schema at start, as in the deployment, before the replicator installs capture on it.
    const databaseUrls: Record<string, string> = {};
    for (const database of SYNC_DATABASES) {
      const owner = APPS.find((a) => a.database === database)!;
      const { env, healthUrl } = await settings(owner);
      databaseUrls[`${database.toUpperCase()}_DATABASE_URL`] = env.DATABASE_URL!;
      await runUntilHealthy(owner, env, healthUrl);
    }
    // The catalog's host and port (the port swapped for a free one), not loopback: what the task runs with.
    const { env } = await catalogSettings(SYNC);
    expect(env.SYNC_HOST).toBe('0.0.0.0');
    const base = `http://${nonLoopbackAddress()}:${env.SYNC_PORT}`;
    await runUntilHealthy(SYNC, { ...env, ...databaseUrls }, `${base}/healthz`, async () => {
      // What the proxy's shadow copies ask: has every change before this moment reached the service's copy?
      const answer = await fetch(`${base}/watermark?service=orders&at=0&waitMs=0`);
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({ service: 'orders', at: 0, reached: true });
      // A service it does not copy: the documented 404, which the proxy takes as "compare at once".
      const unknown = await fetch(`${base}/watermark?service=nothing&at=0&waitMs=0`);
      expect(unknown.status).toBe(404);
    });
  }, 90_000);
});
