import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const MODULE = new URL('./logger.ts', import.meta.url).href;

/** A process logging through the buffered logger; `then` runs after the lines are logged. */
function run(lines: number, then: string): { out: () => string; exited: Promise<number | null>; kill: () => void } {
  const script = `import { createLogger } from '${MODULE}';
const log = createLogger('t', 'info', { buffered: true });
for (let i = 0; i < ${lines}; i++) log.info({ i, password: 'hunter2' }, 'line');
${then}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: import.meta.dirname });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return { out: () => out, exited: new Promise((r) => child.on('exit', r)), kill: () => child.kill('SIGKILL') };
}

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
});
