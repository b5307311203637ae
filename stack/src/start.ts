// `npm start`: the whole local stack in one terminal; Ctrl-C stops it cleanly.
import { loadStackConfig } from './config.ts';
import { EmbeddedPostgresUnavailable } from './postgres-reach.ts';
import { startStack } from './stack.ts';

const started = Date.now();
const config = loadStackConfig();
const log = (line: string): void => console.log(line);
let stopping = false;
let stack: Awaited<ReturnType<typeof startStack>> | undefined;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log('stopping…');
    await stack?.stop().catch((err: unknown) => console.error(`stop failed: ${err instanceof Error ? err.message : String(err)}`));
  }
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  stack = await startStack(config, {
    log,
    onUnexpectedExit: (name, code) => {
      console.error(`${name} exited unexpectedly (code ${code}); stopping the stack`);
      void shutdown(1);
    },
  });
} catch (err) {
  // Found before anything started: one line saying why and what to do, no stack trace, exit 2.
  if (err instanceof EmbeddedPostgresUnavailable) {
    console.error(`npm start cannot run the embedded PostgreSQL: ${err.message}`);
    process.exit(2);
  }
  console.error(`npm start failed: ${err instanceof Error ? err.message : String(err)}`);
  await shutdown(1);
}
console.log(['', ...stack!.banner, '', `ready in ${((Date.now() - started) / 1000).toFixed(1)} s — Ctrl-C to stop`, ''].join('\n'));
