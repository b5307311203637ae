import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from '@strangler/stack';

/**
 * A redis-server of a test's own on a free loopback port, so a test can stop and freeze it (the
 * machine's Redis is never touched). No persistence: each one starts empty.
 */
export interface TestRedis {
  url: string;
  /** SIGSTOP: the server holds every connection and answers nothing, as an unreachable one does. */
  freeze(): void;
  /** SIGCONT: it answers again, including what was sent to it meanwhile. */
  thaw(): void;
  close(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const failed = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new Error(`redis-server could not start (is it installed?): ${err.message}`))),
  );
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    const ok = await Promise.race([probe.connect().then(() => probe.ping()), failed]).then(
      () => true,
      (err: Error) => {
        if (err.message.startsWith('redis-server could not start')) throw err;
        return false;
      },
    );
    probe.disconnect();
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    freeze: () => child.kill('SIGSTOP'),
    thaw: () => child.kill('SIGCONT'),
    async close() {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}
