import type { Logger } from 'pino';

/**
 * On SIGTERM or SIGINT (once; a second signal while stopping is ignored): log, run `stop`, exit 0 —
 * or 1 when stopping fails. The one shutdown path of every process entry: the apps' and the proxy's.
 */
export function exitOnSignals(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'draining and shutting down');
      stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}
