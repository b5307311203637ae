export { loadStackConfig, repoRoot, type StackConfig } from './config.ts';
export { components, type Component } from './components.ts';
export { databaseUrl, redactUrl } from './database-url.ts';
export { ensureDatabase, dropDatabase, createScratchDatabase, type ScratchDatabase } from './databases.ts';
export { startPostgres, type PostgresServer } from './postgres-server.ts';
export { isAlive, ProcessGroup, type ProcessSpec } from './process-group.ts';
export { startStack, type RunningStack } from './stack.ts';
export { freePort, freeStackPorts, reservePort, type StackPorts } from './free-port.ts';
