import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const MODULE = new URL('./exit-on-signals.ts', import.meta.url).href;

/** A process that prints "ready", then stops with `stop` on a signal; resolves with its exit code and output. */
function runWith(stop: string, signals: NodeJS.Signals[]): Promise<{ code: number | null; out: string }> {
  const script = `import { pino } from 'pino'; import { exitOnSignals } from '${MODULE}';
let calls = 0;
exitOnSignals(pino(), async () => { calls++; console.log('stop called ' + calls); await new Promise((r) => setTimeout(r, 100)); ${stop} });
console.log('ready'); setInterval(() => {}, 1000);`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: import.meta.dirname });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      // One at a time, 30 ms apart (stop takes 100 ms): two signals sent at once may arrive in either order.
      if (out.includes('ready\n') && signals.length) signals.splice(0).forEach((s, i) => setTimeout(() => child.kill(s), i * 30));
    });
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('exitOnSignals', () => {
  it('when SIGTERM then SIGINT arrive, then stop runs once, the drain is logged, and the process exits 0', async () => {
    const r = await runWith('', ['SIGTERM', 'SIGINT']);
    expect(r.code).toBe(0);
    expect(r.out.match(/stop called/g)).toEqual(['stop called']);
    expect(r.out).toContain('"signal":"SIGTERM","msg":"draining and shutting down"');
  });

  it('when stopping fails, then the failure is logged and the process exits 1', async () => {
    const r = await runWith(`throw new Error('pool would not end');`, ['SIGINT']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('"msg":"shutdown failed"');
    expect(r.out).toContain('pool would not end');
  });
});
