export { startListingsService, MIGRATIONS_DIR, type RunningListings } from './listings-service.ts';
export { loadConfig, type ListingsConfig } from './config.ts';
