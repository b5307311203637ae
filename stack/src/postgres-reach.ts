// As root, the embedded PostgreSQL runs as the `postgres` user: this decides where that user can
// find the binaries and the data folder when the clone sits where only root can enter (like /root).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/** Where root keeps what the postgres user must reach: binary copies and relocated data folders. */
export const SHARED_STATE_DIR = '/var/lib/strangler';

/** Why the embedded server cannot run here, in one line that says what to do; `npm start` prints it and exits 2. */
export class EmbeddedPostgresUnavailable extends Error {
  override name = 'EmbeddedPostgresUnavailable';
}

export interface OsUser {
  uid: number;
  gid: number;
}

const execFileAsync = promisify(execFile);
const COPY_MARKER = '.strangler-copy-complete';

/**
 * The first of `paths` (folders it must enter, files it must run) that `user` cannot use, or
 * undefined. It asks a shell spawned as that user, exactly as the server is spawned (no
 * supplementary groups), so ACLs and mount options count too.
 */
export async function firstUnreachable(paths: string[], user: OsUser): Promise<string | undefined> {
  const script = 'for p; do test -x "$p" || { printf %s "$p"; exit 1; }; done';
  try {
    await execFileAsync('/bin/sh', ['-c', script, 'sh', ...paths], { uid: user.uid, gid: user.gid });
    return undefined;
  } catch (err) {
    const blocked = (err as { stdout?: string }).stdout;
    if (blocked) return blocked;
    throw new EmbeddedPostgresUnavailable(
      `cannot check what the postgres user can reach (${(err as Error).message}); set DATABASE_URL to use another server`,
      { cause: err },
    );
  }
}

/** `target` and every folder above it, from `/` down: what a process must enter to reach it. */
function pathFromRoot(target: string): string[] {
  const chain: string[] = [];
  for (let p = path.resolve(target); ; p = path.dirname(p)) {
    chain.unshift(p);
    if (p === path.dirname(p)) return chain;
  }
}

/**
 * `dataDir` when `user` can enter its parent; else `fallbackDataDir` (a folder outside the clone
 * that persists between runs), or an EmbeddedPostgresUnavailable when there is none.
 */
export async function reachableDataDir(
  dataDir: string,
  fallbackDataDir: string | undefined,
  user: OsUser,
  log: (l: string) => void,
): Promise<string> {
  const blocked = await firstUnreachable(pathFromRoot(path.dirname(dataDir)), user);
  if (blocked === undefined) return dataDir;
  if (!fallbackDataDir) {
    throw new EmbeddedPostgresUnavailable(
      `the postgres user (PostgreSQL will not run as root) cannot enter ${blocked}, on the way to the data folder ${dataDir}: set STRANGLER_DATA_DIR to a folder it can reach (e.g. under ${SHARED_STATE_DIR}), or DATABASE_URL`,
    );
  }
  await rootOwnedFolder(path.dirname(fallbackDataDir)).catch((err: unknown) => {
    if (err instanceof EmbeddedPostgresUnavailable) throw err;
    throw new EmbeddedPostgresUnavailable(
      `the postgres user cannot enter ${blocked}, and making ${path.dirname(fallbackDataDir)} for its data failed (${(err as Error).message}): set STRANGLER_DATA_DIR to a folder it can reach, or DATABASE_URL`,
      { cause: err },
    );
  });
  const stillBlocked = await firstUnreachable(pathFromRoot(path.dirname(fallbackDataDir)), user);
  if (stillBlocked !== undefined) {
    throw new EmbeddedPostgresUnavailable(
      `the postgres user cannot enter ${blocked} (the clone's data folder) nor ${stillBlocked} (the one outside it): set STRANGLER_DATA_DIR to a folder it can reach, or DATABASE_URL`,
    );
  }
  log(
    `the postgres user (PostgreSQL will not run as root) cannot enter ${blocked}: keeping its data in ${fallbackDataDir} instead of ${dataDir}`,
  );
  return fallbackDataDir;
}

/**
 * `nativeDir` when `user` can run its binaries; else a copy of its bin, lib and share (they find
 * each other by relative paths) under `sharedDir`, owned by root, mode 0755, made once per build
 * of the binaries and reused while its marker says the copy completed.
 */
export async function reachableNative(nativeDir: string, sharedDir: string, user: OsUser, log: (l: string) => void): Promise<string> {
  const blocked = await firstUnreachable(neededToRun(nativeDir), user);
  if (blocked === undefined) return nativeDir;

  try {
    return await copyOnce(nativeDir, sharedDir, blocked, user, log);
  } catch (err) {
    if (err instanceof EmbeddedPostgresUnavailable) throw err;
    throw new EmbeddedPostgresUnavailable(
      `the postgres user cannot enter ${blocked}, and copying the PostgreSQL binaries to ${sharedDir} failed (${(err as Error).message}): free or fix ${sharedDir}, or set DATABASE_URL`,
      { cause: err },
    );
  }
}

async function copyOnce(nativeDir: string, sharedDir: string, blocked: string, user: OsUser, log: (l: string) => void): Promise<string> {
  const fingerprint = await treeFingerprint(nativeDir);
  const { stdout } = await execFileAsync(path.join(nativeDir, 'bin/postgres'), ['--version']);
  const version = /(\d+(?:\.\d+)*)\s*$/.exec(stdout.trim())?.[1] ?? 'unknown';
  await rootOwnedFolder(sharedDir);
  const target = path.join(sharedDir, `postgres-${version}-${fingerprint.slice(0, 12)}`);
  if (!(await isCompleteCopy(target, fingerprint))) {
    await fs.rm(target, { recursive: true, force: true });
    const partial = `${target}.partial-${randomBytes(4).toString('hex')}`;
    try {
      await fs.cp(nativeDir, partial, { recursive: true, verbatimSymlinks: true });
      await openUp(partial);
      await fs.writeFile(path.join(partial, COPY_MARKER), fingerprint, { mode: 0o644 });
      // A rename, so a concurrent start sees either no copy or a complete one.
      await fs.rename(partial, target).catch(async (err: unknown) => {
        if (!(await isCompleteCopy(target, fingerprint))) throw err;
      });
    } finally {
      await fs.rm(partial, { recursive: true, force: true });
    }
    log(`the postgres user cannot enter ${blocked}: copied the PostgreSQL binaries to ${target}`);
  }
  const stillBlocked = await firstUnreachable(neededToRun(target), user);
  if (stillBlocked !== undefined) {
    throw new EmbeddedPostgresUnavailable(
      `the postgres user cannot run the PostgreSQL binaries in ${nativeDir} nor their copy (blocked at ${stillBlocked}): run as another user, or set DATABASE_URL`,
    );
  }
  return target;
}

/** What the server's user must enter or run: the folders down to `dir`, the two programs, their libraries and data files. */
function neededToRun(dir: string): string[] {
  return [...pathFromRoot(dir), ...['bin/postgres', 'bin/initdb', 'lib', 'share'].map((p) => path.join(dir, p))];
}

async function isCompleteCopy(dir: string, fingerprint: string): Promise<boolean> {
  return (await fs.readFile(path.join(dir, COPY_MARKER), 'utf8').catch(() => '')) === fingerprint;
}

/** Names, types, sizes, modes and link targets of every entry: a new build of the binaries gets a new copy. */
async function treeFingerprint(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const entries = (await fs.readdir(dir, { recursive: true })).sort();
  for (const rel of entries) {
    const full = path.join(dir, rel);
    const st = await fs.lstat(full);
    hash.update(`${rel}\0${st.mode}\0${st.size}\0${st.isSymbolicLink() ? await fs.readlink(full) : ''}\n`);
  }
  return hash.digest('hex');
}

/** Folders 0755, files 0644 (0755 when executable): readable and runnable by the postgres user, writable by root alone. */
async function openUp(dir: string): Promise<void> {
  await fs.chmod(dir, 0o755);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) await openUp(full);
    else await fs.chmod(full, (await fs.stat(full)).mode & 0o111 ? 0o755 : 0o644);
  }
}

/**
 * Makes `dir` (and its missing parents) as root, 0755. An existing one must be root's alone:
 * what the postgres user runs from it must not be replaceable by another user.
 */
async function rootOwnedFolder(dir: string): Promise<void> {
  const firstMade = await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  // The umask may have narrowed the folders just made.
  if (firstMade !== undefined) for (let p = dir; p.length >= firstMade.length; p = path.dirname(p)) await fs.chmod(p, 0o755);
  const st = await fs.stat(dir);
  if (st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new EmbeddedPostgresUnavailable(
      `${dir} must be owned by root and writable by root alone (it is uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}): fix or remove it, or set DATABASE_URL`,
    );
  }
  if ((st.mode & 0o005) !== 0o005) await fs.chmod(dir, 0o755);
}
