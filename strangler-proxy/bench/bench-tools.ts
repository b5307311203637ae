// What the benchmarks share: child processes, readiness, autocannon in its own process, CPU and
// memory of a process tree from /proc. Loopback only.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
export const children: ChildProcess[] = [];

export function start(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return child;
}

export function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]!.trim());
    });
    child.once('exit', (code) => reject(new Error(`${child.spawnfile} exited with ${code}`)));
  });
}

/** Writes, in `dir`, the route table of the proxy benches: every path to one monolith, `/api/*` through a route of its own. Returns its path. */
export function writeMonolithRoutes(dir: string, upstreamUrl: string): string {
  const file = path.join(dir, 'routes.yaml');
  fs.writeFileSync(
    file,
    `version: 1\nupstreams:\n  monolith: { url: "${upstreamUrl}" }\nroutes:\n  - name: api\n    match: { path: /api/* }\n    mode: monolith\ndefault: monolith\n`,
  );
  return file;
}

/**
 * The route table of the shadow benches: `/api/*` answered by the monolith, in shadow mode (every
 * request mirrored to `target`, each copy given `timeoutMs`) or, with `shadow` false, not mirrored.
 */
export function shadowRoutes(monolith: string, target: string, shadow: boolean, timeoutMs: number): string {
  return `version: 1
upstreams:
  monolith: { url: "${monolith}" }
  target: { url: "${target}" }
routes:
  - name: api
    match: { path: /api/* }
    mode: ${shadow ? 'shadow' : 'monolith'}
    target: target
    shadow: { sampleRate: 1.0, timeoutMs: ${timeoutMs} }
default: monolith
`;
}

/** Polls `url` every 100 ms until it answers 2xx, `tries` times at most. */
export async function waitFor(url: string, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered`);
}

/** The process and its children (nginx's workers), from /proc. */
export function processTree(pid: number): number[] {
  const kids = fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return Number(fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [pid, ...kids.flatMap(processTree)];
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/** User + system CPU time from a `/proc/…/stat` line, microseconds (after the `(comm)` field, which may hold spaces). */
function statMicros(stat: string): number {
  const fields = stat.split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLK_TCK;
}

/** CPU time (user + system) of a process and its children, microseconds. */
export function cpuMicros(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + statMicros(fs.readFileSync(`/proc/${p}/stat`, 'utf8')), 0);
}
/**
 * A process's CPU time (user + system, microseconds) by kind of thread, from the names Node gives
 * them: the event loop (`MainThread`), `worker_threads` (`WorkerThread`), and the rest (V8's GC
 * helpers, libuv's pool) — so what a worker does on a core of its own shows apart from the event loop.
 */
export function threadCpuMicros(pid: number): { main: number; workers: number; other: number } {
  const out = { main: 0, workers: 0, other: 0 };
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    let stat: string, comm: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      comm = fs.readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
    } catch {
      continue; // a thread that ended between the listing and the read
    }
    out[comm === 'MainThread' ? 'main' : comm === 'WorkerThread' ? 'workers' : 'other'] += statMicros(stat);
  }
  return out;
}

export function rssMiB(pid: number): number {
  return processTree(pid).reduce((sum, p) => {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
    return sum + (m ? Number(m[1]) / 1024 : 0);
  }, 0);
}

export interface Result {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
}

/** autocannon in its own process: for `seconds`, or until `amount` requests have been answered. */
export function autocannon(
  url: string,
  opts: { seconds?: number; connections?: number; rate?: number; amount?: number } = {},
): Promise<Result> {
  const args = [
    '-j',
    '-c',
    String(opts.connections ?? CONNECTIONS),
    ...(opts.amount ? ['-a', String(opts.amount)] : ['-d', String(opts.seconds ?? SECONDS)]),
    ...(opts.rate ? ['--overallRate', String(opts.rate)] : []),
    url,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'node_modules/autocannon/autocannon.js'), ...args], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.once('exit', () => {
      try {
        const r = JSON.parse(out);
        resolve({
          rps: r.requests.average,
          p50: r.latency.p50,
          p99: r.latency.p99,
          requests: r.requests.total,
          errors: r.errors + r.non2xx,
        });
      } catch (err) {
        reject(new Error(`autocannon gave no result: ${(err as Error).message}`));
      }
    });
  });
}

/** The middle value; of an even count, the mean of the two middle ones (not the higher: two rounds are a common count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Stops every child started. */
export function stopAll(): void {
  for (const c of children) c.kill('SIGTERM');
}

export interface PacedResult {
  requests: number;
  errors: number;
  /** Requests sent to this URL, the uncounted first second's among them: what a front's CPU over the run divides by. */
  sent: number;
  /** Milliseconds, from when each request was due. */
  p50: number;
  p99: number;
  max: number;
}

/** `rate` requests a second for `seconds`, timed to the microsecond (paced-load.ts, its own process). */
export async function pacedLoad(url: string, opts: { rate: number; seconds?: number; connections?: number }): Promise<PacedResult> {
  return (await pacedLoadTogether([url], opts))[0]!;
}

/**
 * `rate` requests a second to each URL at once, theirs alternating and due at the same moments, so
 * the machine's stalls fall on all of them alike: one result per URL, in order.
 */
export function pacedLoadTogether(urls: string[], opts: { rate: number; seconds?: number; connections?: number }): Promise<PacedResult[]> {
  const args = [
    path.join(here, 'paced-load.ts'),
    urls.join(','),
    String(opts.rate),
    String(opts.seconds ?? SECONDS),
    String(opts.connections ?? 16),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.once('exit', () => {
      try {
        resolve(JSON.parse(out) as PacedResult[]);
      } catch (err) {
        reject(new Error(`paced load gave no result: ${(err as Error).message}`));
      }
    });
  });
}

/**
 * The share of the last 10 s in which some runnable task waited for a CPU (/proc/pressure/cpu,
 * `some avg10`), or NaN where the kernel does not report it: how much the machine's other work
 * was in the way while a front was measured.
 */
export function cpuPressure(): number {
  try {
    return Number(/some avg10=([\d.]+)/.exec(fs.readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}
