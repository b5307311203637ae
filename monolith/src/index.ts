export { monolithRoutes } from './app.ts';
export { loadConfig, type MonolithConfig } from './config.ts';
export { startMonolith, type RunningMonolith } from './monolith.ts';
export { MIGRATIONS_DIR } from './db/migrations-dir.ts';
export { seedIfEmpty, reseed } from './seed/seed.ts';
export { generateSeedData, DEMO_ACCOUNTS, SEED_USER_PASSWORD } from './seed/seed-data.ts';
