// `npm run seed [-- --reset]`: seeds the monolith database of the local stack (embedded PostgreSQL,
// or the server in DATABASE_URL). Safe beside a running `npm start`: it uses that server as it is.
import { databaseUrl, ensureDatabase, loadStackConfig, startPostgres } from '@strangler/stack';
import { createDatabase, migrate } from '@strangler/service-kit';
import { reseed, seedIfEmpty } from './seed.ts';
import { MIGRATIONS_DIR } from '../db/migrations-dir.ts';

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--reset');
if (unknown.length) {
  console.error(`unknown argument ${unknown.join(' ')}; usage: npm run seed [-- --reset]`);
  process.exit(2);
}

const config = loadStackConfig();
const server = await startPostgres(config.databaseUrl, {
  dataDir: config.embeddedDataDir,
  fallbackDataDir: config.embeddedFallbackDataDir,
  port: config.embeddedPort,
  ifRunning: 'reuse',
  log: console.log,
});
const name = `${config.databasePrefix}monolith`;
await ensureDatabase(server.url, name);
const db = createDatabase({ connectionString: databaseUrl(server.url, name), applicationName: 'monolith-seed' });
try {
  await migrate(db, MIGRATIONS_DIR);
  const counts = args.includes('--reset') ? await reseed(db) : await seedIfEmpty(db);
  console.log(
    counts ? `seeded ${name}: ${JSON.stringify(counts)}` : `${name} already has data; run \`npm run seed -- --reset\` to replace it`,
  );
} finally {
  await db.close();
  await server.stop();
}
