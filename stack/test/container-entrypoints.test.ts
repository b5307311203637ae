import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { repoRoot } from '../src/config.ts';
import { createScratchDatabase, type ScratchDatabase } from '../src/databases.ts';
import { freePort } from '../src/free-port.ts';
import type {} from '../src/testing/provided-context.ts';

/**
 * No Docker engine runs here, so each image is tested by running what it would run: its CMD, with
 * its ENV, from the repository root (the image's WORKDIR holds the same tree), against real
 * PostgreSQL, until its health endpoint answers.
 */
const DOCKERFILES = ['monolith/Dockerfile', 'extracted/auth/Dockerfile', 'extracted/listings/Dockerfile', 'extracted/orders/Dockerfile'];

function imageSpec(file: string): { cmd: string[]; env: Record<string, string>; workspaces: string[] } {
  const text = fs.readFileSync(path.join(repoRoot, file), 'utf8');
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(text)![1]!) as string[];
  const env = Object.fromEntries([...text.matchAll(/^ENV (.+)$/gm)].flatMap((m) => m[1]!.split(/\s+/).map((kv) => kv.split('=') as [string, string])));
  const workspaces = [...text.matchAll(/^COPY (?!--from)(\S+) \1$/gm)].map((m) => m[1]!);
  return { cmd, env, workspaces };
}

const scratches: ScratchDatabase[] = [];
afterAll(async () => {
  for (const s of scratches) await s.drop();
});

describe.each(DOCKERFILES)('%s', (file) => {
  it('when its CMD runs with its ENV against PostgreSQL, then /healthz and /readyz answer 200, and SIGTERM exits 0', async () => {
    const { cmd, env, workspaces } = imageSpec(file);
    expect(cmd[0]).toBe('node');
    // The image copies the entry's workspace; the entry must be inside what it copies.
    expect(workspaces.some((w) => cmd[1]!.startsWith(`${w}/`))).toBe(true);
    const scratch = await createScratchDatabase(inject('pgServerUrl'), 'entrypoint');
    scratches.push(scratch);
    const port = await freePort();
    const child = spawn(process.execPath, cmd.slice(1), {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', ...env, HOST: '127.0.0.1', PORT: String(port), DATABASE_URL: scratch.url, SESSION_SECRET: 'entrypoint-test-secret-of-32-characters', API_BASE_URL: 'http://127.0.0.1:9', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let ready = false;
      for (let i = 0; i < 150 && !ready && child.exitCode === null; i++) {
        ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
        if (!ready) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready, output).toBe(true);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
