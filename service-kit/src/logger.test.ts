import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const MODULE = new URL('./logger.ts', import.meta.url).href;

/** A process logging through the buffered logger; `then` runs after the lines are logged. */
function run(lines: number, then: string): { out: () => string; exited: Promise<number | null>; kill: () => void } {
  const script = `import { createLogger } from '${MODULE}';
const log = createLogger('t', 'info', { buffered: true });
for (let i = 0; i < ${lines}; i++) log.info({ i, password: 'hunter2' }, 'line');
${then}`;
  const child = spawnScript(script);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return { out: () => out, exited: exitOf(child), kill: () => child.kill('SIGKILL') };
}

/** A module script in a node process of its own, beside this file. */
const spawnScript = (script: string): ChildProcessWithoutNullStreams =>
  spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: import.meta.dirname });

const exitOf = (child: ChildProcess): Promise<number | null> => new Promise((r) => child.on('exit', r));

describe('the buffered logger', () => {
  it('when the process exits right after logging, then every line buffered is written first, still redacted', async () => {
    const p = run(2000, 'process.exit(0);');
    expect(await p.exited).toBe(0);
    const lines = p.out().trim().split('\n');
    expect(lines).toHaveLength(2000);
    expect(JSON.parse(lines[1999]!)).toMatchObject({ i: 1999, password: '[redacted]', service: 't' });
  });

  it('when lines hold characters of every UTF-8 width, then each arrives whole and in order', async () => {
    const p = run(3000, `log.info({ text: 'Café ☕ 𝄞 ' + 'x'.repeat(200) }, 'wide'); process.exit(0);`);
    expect(await p.exited).toBe(0);
    const lines = p.out().trim().split('\n');
    expect(lines).toHaveLength(3001);
    expect(lines.slice(0, 3000).map((l) => (JSON.parse(l) as { i: number }).i)).toEqual([...Array(3000).keys()]);
    expect(JSON.parse(lines[3000]!)).toMatchObject({ text: `Café ☕ 𝄞 ${'x'.repeat(200)}`, msg: 'wide' });
  });

  it('when a line is logged and nothing more, then it is written within the flush period, not held until the buffer fills', async () => {
    const p = run(1, 'setInterval(() => {}, 1000);');
    const deadline = Date.now() + 5000;
    while (!p.out().includes('"msg":"line"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    p.kill();
    expect(p.out()).toContain('"msg":"line"');
  });

  it('when the reader of stdout has gone and the process exits with lines still buffered, then it exits at once, not retrying the write forever', async () => {
    // Lines are logged only once the reader is gone, and the exit follows at once: they are still
    // in the buffer, for the exit's flush to write.
    const script = `import { createLogger } from '${MODULE}';
const log = createLogger('t', 'info', { buffered: true });
process.stdin.once('data', () => { for (let i = 0; i < 10; i++) log.info({ i }, 'line'); process.exit(0); });
process.stderr.write('ready\\n');`;
    const child = spawnScript(script);
    const exited = exitOf(child);
    await new Promise((r) => child.stderr.once('data', r));
    child.stdout.destroy();
    child.stdin.write('go\\n');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running after 5 s'), 5000))]);
    child.kill('SIGKILL');
    expect(code).toBe(0);
  });
});
