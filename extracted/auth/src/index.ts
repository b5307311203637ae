export { startAuthService, MIGRATIONS_DIR } from './auth-service.ts';
export { loadConfig, type AuthConfig } from './config.ts';
