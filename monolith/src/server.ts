// The monolith's process entry: `node monolith/src/server.ts` (also the container's command).
import { runApp } from '@strangler/service-kit';
import { loadConfig } from './config.ts';
import { startMonolith } from './monolith.ts';

await runApp('monolith', loadConfig, startMonolith);
