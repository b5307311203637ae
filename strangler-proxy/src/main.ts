// The proxy's process entry (also the container's command): `node strangler-proxy/src/main.ts`.
import { ConfigError } from '@strangler/service-kit/env';
import { exitOnSignals } from '@strangler/service-kit/exit-on-signals';
import { createLogger } from '@strangler/service-kit/logger';
import { loadProxyConfig } from './config/proxy-config.ts';
import { RouteTableError } from './config/load-route-table.ts';
import { startProxy } from './proxy/proxy-server.ts';

export async function runProxy(overrides: Parameters<typeof loadProxyConfig>[1] = {}): Promise<void> {
  let config;
  try {
    config = loadProxyConfig(process.env, overrides);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`strangler: ${err.message}`);
    process.exit(2);
  }
  // A line per request: buffered, so the access log never waits on a write(2) in the request path.
  const log = createLogger('strangler-proxy', config.logLevel, { buffered: true });
  let running;
  try {
    running = await startProxy(config, log);
  } catch (err) {
    if (err instanceof RouteTableError) {
      console.error(`strangler: ${config.routesFile ?? "the shared store's table"} is not a valid route table:\n${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  exitOnSignals(log, () => running.close());
}

if (import.meta.main) await runProxy();
