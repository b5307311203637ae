// The listings service's process entry: `node extracted/listings/src/server.ts` (also the container's command).
import { ConfigError, createLogger, exitOnSignals } from '@strangler/service-kit';
import { loadConfig } from './config.ts';
import { startListingsService } from './listings-service.ts';

let config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`listings: ${err.message}`);
  process.exit(2);
}
const log = createLogger('listings', config.logLevel);
const running = await startListingsService(config, log);
log.info({ url: running.url }, 'listings service listening');
exitOnSignals(log, () => running.close());
