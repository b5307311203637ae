import { ConfigError } from '../config/env.ts';
import { createLogger } from '../logger.ts';
import { exitOnSignals } from '../exit-on-signals.ts';
import type { RunningApp } from './start-app.ts';

/**
 * An app's process entry (also its container's command): configuration from the environment (a
 * bad value exits 2 with a message naming the variable), start, log the URL, drain on SIGTERM.
 */
export async function runApp<C extends { logLevel: string }>(
  name: string,
  loadConfig: () => C,
  start: (config: C, log: ReturnType<typeof createLogger>) => Promise<RunningApp>,
): Promise<void> {
  let config: C;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`${name}: ${err.message}`);
    process.exit(2);
  }
  const log = createLogger(name, config.logLevel);
  const running = await start(config, log);
  log.info({ url: running.url }, `${name} listening`);
  exitOnSignals(log, () => running.close());
}
