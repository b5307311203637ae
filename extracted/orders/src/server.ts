// The orders service's process entry: `node extracted/orders/src/server.ts` (also the container's command).
import { runApp } from '@strangler/service-kit';
import { loadConfig } from './config.ts';
import { startOrdersService } from './orders-service.ts';

await runApp('orders', loadConfig, startOrdersService);
