// The listings service's process entry: `node extracted/listings/src/server.ts` (also the container's command).
import { runApp } from '@strangler/service-kit';
import { loadConfig } from './config.ts';
import { startListingsService } from './listings-service.ts';

await runApp('listings', loadConfig, startListingsService);
