// The monolith's process entry: `node monolith/src/server.ts` (also the container's command).
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { startMonolith } from './monolith.ts';

let config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`monolith: ${err.message}`);
  process.exit(2);
}
const log = createLogger(config.logLevel);
const running = await startMonolith(config, log);
log.info({ url: running.url }, 'monolith listening');

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining and shutting down');
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
