import { spawn } from 'node:child_process';
import path from 'node:path';

/** The `strangler` CLI's entry script (run as a child process, so a package's tests need not depend on the CLI's). */
export const CLI = path.resolve(import.meta.dirname, '../../../strangler-cli/src/strangler.ts');

/** Runs the `strangler` CLI as a user would, with only PATH and `env` in its environment. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}
