// `npm run bench:instructions`: what each front costs per request in CPU instructions, counted by
// valgrind's callgrind — the same count for the same code and requests whatever else the machine
// is doing, where CPU time on a shared 2-core host swings by a fifth between runs of the same
// build. Each front (the two bare pipes, Node's floors; the strangler proxy with the access log and
// metrics `npm start` runs it with; another checkout's proxy with BENCH_BASELINE=<dir>, as in
// bench:proxy) runs under callgrind twice, for BENCH_FEW (1000) and BENCH_MANY (4000) requests of
// the 1 KiB upstream: the difference over the difference in requests is a request's cost with
// start-up and compilation left out. Then what shadowing costs, in the same counts: the proxy
// (and the baseline) with the route in shadow mode, every request mirrored to a second upstream,
// each thread counted apart — the event loop, and the rest (the mirror worker, GC helpers) — beside
// the same front with no shadow, and from them what mirroring every request would cost the
// proxy's saturation throughput: with the mirror worker on a core of its own (the event loop is the
// limit) and with the whole proxy on one core; the share actually mirrored is checked (BENCH_SHADOW=0
// leaves this part out). Two runs at a time (two cores). About 17 minutes with a baseline; needs
// valgrind (apt-get install -y valgrind). Loopback only, bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { autocannon, children, firstLine, here, root, shadowRoutes, start, stopAll, waitFor, writeMonolithRoutes } from './bench-tools.ts';

const FEW = Number(process.env.BENCH_FEW ?? 1000);
const MANY = Number(process.env.BENCH_MANY ?? 4000);
const BASELINE = process.env.BENCH_BASELINE;
const SHADOW = process.env.BENCH_SHADOW !== '0';
const VALGRIND = ['/usr/bin/valgrind', '/usr/local/bin/valgrind'].find((p) => fs.existsSync(p));

interface Front {
  name: string;
  /** Count each thread apart (the proxy's fronts): the event loop's count is then read on its own. */
  threads?: boolean;
  /** Its route is in shadow mode: the copies it mirrored are counted once they have all been done. */
  shadow?: boolean;
  /** Node's arguments, and the environment, for a run on `port`. */
  args: (port: number) => string[];
  env: (port: number) => Record<string, string>;
}

/** What one run counted: in all, on the event loop (thread 1), and how many copies the proxy said it mirrored. */
interface Count {
  total: number;
  main: number;
  mirrored: number;
}

/** One run under callgrind: `requests` sent once the front answers; the instructions it executed. */
async function countInstructions(front: Front, port: number, requests: number, tmp: string): Promise<Count> {
  const out = path.join(tmp, `${front.name.replace(/\W/g, '-')}${front.shadow ? '-shadow' : ''}-${requests}.out`);
  const child: ChildProcess = spawn(
    VALGRIND!,
    [
      '--tool=callgrind',
      `--callgrind-out-file=${out}`,
      ...(front.threads ? ['--separate-threads=yes'] : []),
      '--smc-check=all-non-file',
      process.execPath,
      ...front.args(port),
    ],
    { env: { ...process.env, ...front.env(port) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Stopped with the rest if the bench fails, so no run outlives it holding its port.
  children.push(child);
  child.stdout!.resume();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let mirrored = 0;
  try {
    // Start-up under valgrind takes tens of seconds.
    await waitFor(`http://127.0.0.1:${port}/api/x`, 1200);
    // Warmed up first, as both runs are (the difference leaves it out): under valgrind the first
    // requests compile the proxy's hot path, and a shadow front's mirror worker's, for seconds.
    await autocannon(`http://127.0.0.1:${port}/api/listings/1`, { amount: 50, connections: 1 });
    const r = await autocannon(`http://127.0.0.1:${port}/api/listings/1`, { amount: requests, connections: 8 });
    if (r.errors > 0) throw new Error(`${front.name}${front.shadow ? ' shadow' : ''}: ${r.errors} of ${requests} requests failed`);
    // Copies still in flight are counted once they are done: the count is read when it stops moving.
    if (front.shadow)
      for (let last = -1; mirrored !== last; await new Promise((r) => setTimeout(r, 2000)))
        [last, mirrored] = [mirrored, await mirroredCount(port + 1)];
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  const collected = /Collected : (\d+)/.exec(stderr);
  if (!collected) throw new Error(`${front.name}: callgrind reported no count:\n${stderr.slice(-2000)}`);
  const total = Number(collected[1]);
  if (!front.threads) return { total, main: total, mirrored };
  // With --separate-threads, one file per thread, `<out>-01` the main thread's (the event loop).
  const main = /^totals: (\d+)$/m.exec(fs.readFileSync(`${out}-01`, 'utf8'));
  if (!main) throw new Error(`${front.name}: no totals line in ${out}-01`);
  return { total, main: Number(main[1]), mirrored };
}

async function mirroredCount(adminPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/__strangler/metrics`)).text();
  return Number(/strangler_shadow_requests_total\{route="api",outcome="mirrored"\} (\d+)/.exec(text)?.[1] ?? 0);
}

/**
 * Each proxy front with its route in shadow mode beside the same front without: a mirror's
 * instructions on the event loop and on the other threads, and what mirroring every request would
 * cost the saturation throughput — with the mirror worker on a core of its own, the event loop is
 * the limit; with the whole proxy on one core, every thread's count is.
 */
function printShadow(fronts: Front[], per: (f: Front, of: keyof Count) => number): void {
  console.log('');
  console.log(
    `shadow: every request of the route mirrored to a second 1 KiB upstream; the event loop (thread 1) and the rest (the mirror worker, GC helpers) counted apart`,
  );
  console.log(
    `${'front'.padEnd(12)} ${'mirrored'.padStart(8)}  ${'event loop/req off → on'.padStart(25)}  ${'per mirror: event loop'.padStart(22)}  ${'rest'.padStart(9)}  ${'cost, worker on its own core'.padStart(36)}  ${'cost, proxy on one core'.padStart(36)}`,
  );
  for (const on of fronts.filter((f) => f.shadow)) {
    const off = fronts.find((f) => f.name === on.name && !f.shadow)!;
    const share = per(on, 'mirrored');
    const [mainOff, mainOn] = [per(off, 'main'), per(on, 'main')];
    const [restOff, restOn] = [per(off, 'total') - mainOff, per(on, 'total') - mainOn];
    // Per copy, so a run that shed some still says what mirroring every request costs.
    const loopPerMirror = (mainOn - mainOff) / share;
    const restPerMirror = (restOn - restOff) / share;
    const ownCore = loopPerMirror / (mainOff + loopPerMirror);
    const oneCore = (loopPerMirror + restPerMirror) / (mainOff + restOff + loopPerMirror + restPerMirror);
    const n = (x: number): string => Math.round(x).toLocaleString('en-US');
    const pct = (x: number): string => `${(x * 100).toFixed(1)} % (target ≤ 20 %: ${x <= 0.2 ? 'met' : 'NOT met'})`;
    console.log(
      `${on.name.padEnd(12)} ${`${(share * 100).toFixed(0)} %`.padStart(8)}  ${`${n(mainOff)} → ${n(mainOn)}`.padStart(25)}  ${n(loopPerMirror).padStart(22)}  ${n(restPerMirror).padStart(9)}  ${pct(ownCore).padStart(36)}  ${pct(oneCore).padStart(36)}`,
    );
  }
}

async function main(): Promise<void> {
  if (!VALGRIND) {
    console.error('valgrind is not installed (apt-get install -y valgrind): no instruction counts this run');
    process.exitCode = 1;
    return;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strangler-instructions-'));
  const upstream = start(process.execPath, [path.join(here, 'upstream-server.ts'), '1024']);
  const upstreamUrl = `http://127.0.0.1:${await firstLine(upstream)}`;
  const routes = writeMonolithRoutes(tmp, upstreamUrl);
  const shadowTable = path.join(tmp, 'shadow-routes.yaml');
  if (SHADOW) {
    const target = start(process.execPath, [path.join(here, 'upstream-server.ts'), '1024']);
    // A copy's timeout well above what valgrind's slowdown makes of one.
    fs.writeFileSync(shadowTable, shadowRoutes(upstreamUrl, `http://127.0.0.1:${await firstLine(target)}`, true, 5000));
  }
  const proxy = (name: string, dir: string, shadow = false): Front => ({
    name,
    threads: true,
    shadow,
    args: () => [path.join(dir, 'strangler-proxy/src/main.ts')],
    env: (port) => ({
      ROUTES_FILE: shadow ? shadowTable : routes,
      PROXY_PORT: String(port),
      ADMIN_PORT: String(port + 1),
      LOG_LEVEL: 'info',
    }),
  });
  const pipe = (name: string, file: string): Front => ({
    name,
    args: (port) => [path.join(here, file), upstreamUrl, String(port)],
    env: () => ({}),
  });
  const fronts = [
    pipe('node pipe', 'pipe-proxy.ts'),
    pipe('undici pipe', 'undici-pipe.ts'),
    proxy('strangler', root),
    ...(BASELINE ? [proxy('baseline', BASELINE)] : []),
    ...(SHADOW ? [proxy('strangler', root, true), ...(BASELINE ? [proxy('baseline', BASELINE, true)] : [])] : []),
  ];
  console.log(
    `instructions per request (callgrind), 1 KiB JSON upstream, the difference between ${FEW} and ${MANY} requests over 8 connections; ` +
      `strangler LOG_LEVEL=info; Node ${process.version}`,
  );

  const key = (f: Front): string => `${f.name}${f.shadow ? ' shadow' : ''}`;
  const runs = fronts.flatMap((front, i) => [FEW, MANY].map((requests, j) => ({ front, requests, port: 18200 + i * 10 + j * 2 })));
  const counts = new Map<string, Count>();
  const queue = [...runs];
  await Promise.all(
    [0, 1].map(async () => {
      for (let run = queue.shift(); run; run = queue.shift()) {
        counts.set(`${key(run.front)}/${run.requests}`, await countInstructions(run.front, run.port, run.requests, tmp));
      }
    }),
  );

  // Per request, with start-up and compilation left out: the difference between the two runs.
  const per = (f: Front, of: keyof Count): number =>
    (counts.get(`${key(f)}/${MANY}`)![of] - counts.get(`${key(f)}/${FEW}`)![of]) / (MANY - FEW);
  const perRequest = new Map(fronts.filter((f) => !f.shadow).map((f) => [f.name, per(f, 'total')]));
  const floor = perRequest.get('undici pipe')!;
  console.log('');
  console.log(
    `${'front'.padEnd(12)} ${'instructions/req'.padStart(16)}  ${'÷ undici pipe'.padStart(13)}${BASELINE ? `  ${'÷ baseline'.padStart(10)}` : ''}`,
  );
  for (const [name, n] of perRequest) {
    console.log(
      `${name.padEnd(12)} ${Math.round(n).toLocaleString('en-US').padStart(16)}  ${(n / floor).toFixed(2).padStart(13)}` +
        (BASELINE ? `  ${(n / perRequest.get('baseline')!).toFixed(3).padStart(10)}` : ''),
    );
  }
  if (SHADOW) printShadow(fronts, per);
  fs.rmSync(tmp, { recursive: true, force: true });
}

try {
  await main();
} finally {
  stopAll();
}
