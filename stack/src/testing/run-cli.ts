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

/** One line of a command's `--json` output. */
export interface CliEvent {
  event: string;
  [field: string]: unknown;
}

/**
 * Runs the CLI as a pipeline does (`--json`): its exit code, every JSON line it printed in order,
 * and its stderr; `onEvent` is told of each line as it comes, so a test can act mid-run.
 */
export function runCliEvents<E extends CliEvent = CliEvent>(
  args: string[],
  env: Record<string, string> = {},
  onEvent: (e: E) => void = () => {},
): Promise<{ code: number | null; events: E[]; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    const events: E[] = [];
    let buffer = '';
    let err = '';
    child.stdout.on('data', (d) => {
      buffer += d;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        // Only the JSON lines: a tool run inside (a gate's output) may print plain text.
        if (!line.startsWith('{')) continue;
        const e = JSON.parse(line) as E;
        events.push(e);
        onEvent(e);
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, events, err }));
  });
}
