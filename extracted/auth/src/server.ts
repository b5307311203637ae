// The auth service's process entry: `node extracted/auth/src/server.ts` (also the container's command).
import { runApp } from '@strangler/service-kit';
import { startAuthService } from './auth-service.ts';
import { loadConfig } from './config.ts';

await runApp('auth', loadConfig, startAuthService);
