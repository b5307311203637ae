export { startOrdersService, MIGRATIONS_DIR } from './orders-service.ts';
export { loadConfig, type OrdersConfig } from './config.ts';
