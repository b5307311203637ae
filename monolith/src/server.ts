// The monolith's process entry: `node monolith/src/server.ts` (also the container's command).
import { ConfigError, createLogger, exitOnSignals } from '@strangler/service-kit';
import { loadConfig } from './config.ts';
import { startMonolith } from './monolith.ts';

let config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`monolith: ${err.message}`);
  process.exit(2);
}
const log = createLogger('monolith', config.logLevel);
const running = await startMonolith(config, log);
log.info({ url: running.url }, 'monolith listening');
exitOnSignals(log, () => running.close());
