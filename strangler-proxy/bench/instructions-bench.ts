// `npm run bench:instructions`: what each front costs per request in CPU instructions, counted by
// valgrind's callgrind — the same count for the same code and requests whatever else the machine
// is doing, where CPU time on a shared 2-core host swings by a fifth between runs of the same
// build. Each front (the two bare pipes, Node's floors; the strangler proxy with the access log and
// metrics `npm start` runs it with; another checkout's proxy with BENCH_BASELINE=<dir>, as in
// bench:proxy) runs under callgrind twice, for BENCH_FEW (1000) and BENCH_MANY (4000) requests of
// the 1 KiB upstream: the difference over the difference in requests is a request's cost with
// start-up and compilation left out. Two runs at a time (two cores). About 8 minutes with a
// baseline; needs valgrind (apt-get install -y valgrind). Loopback only, bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { autocannon, firstLine, here, root, start, stopAll, waitFor, writeMonolithRoutes } from './bench-tools.ts';

const FEW = Number(process.env.BENCH_FEW ?? 1000);
const MANY = Number(process.env.BENCH_MANY ?? 4000);
const BASELINE = process.env.BENCH_BASELINE;
const VALGRIND = ['/usr/bin/valgrind', '/usr/local/bin/valgrind'].find((p) => fs.existsSync(p));

interface Front {
  name: string;
  /** Node's arguments, and the environment, for a run on `port`. */
  args: (port: number) => string[];
  env: (port: number) => Record<string, string>;
}

/** One run under callgrind: `requests` sent once the front answers; the instructions it executed in all. */
async function countInstructions(front: Front, port: number, requests: number, tmp: string): Promise<number> {
  const child: ChildProcess = spawn(
    VALGRIND!,
    [
      '--tool=callgrind',
      `--callgrind-out-file=${path.join(tmp, `${front.name.replace(/\W/g, '-')}-${requests}.out`)}`,
      '--smc-check=all-non-file',
      process.execPath,
      ...front.args(port),
    ],
    { env: { ...process.env, ...front.env(port) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.resume();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    // Start-up under valgrind takes tens of seconds.
    await waitFor(`http://127.0.0.1:${port}/api/x`, 1200);
    const r = await autocannon(`http://127.0.0.1:${port}/api/listings/1`, { amount: requests, connections: 8 });
    if (r.errors > 0) throw new Error(`${front.name}: ${r.errors} of ${requests} requests failed`);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  const collected = /Collected : (\d+)/.exec(stderr);
  if (!collected) throw new Error(`${front.name}: callgrind reported no count:\n${stderr.slice(-2000)}`);
  return Number(collected[1]);
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
  const proxy = (name: string, dir: string): Front => ({
    name,
    args: () => [path.join(dir, 'strangler-proxy/src/main.ts')],
    env: (port) => ({ ROUTES_FILE: routes, PROXY_PORT: String(port), ADMIN_PORT: String(port + 1), LOG_LEVEL: 'info' }),
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
  ];
  console.log(
    `instructions per request (callgrind), 1 KiB JSON upstream, the difference between ${FEW} and ${MANY} requests over 8 connections; ` +
      `strangler LOG_LEVEL=info; Node ${process.version}`,
  );

  const runs = fronts.flatMap((front, i) => [FEW, MANY].map((requests, j) => ({ front, requests, port: 18200 + i * 10 + j * 2 })));
  const counts = new Map<string, number>();
  const queue = [...runs];
  await Promise.all(
    [0, 1].map(async () => {
      for (let run = queue.shift(); run; run = queue.shift()) {
        counts.set(`${run.front.name}/${run.requests}`, await countInstructions(run.front, run.port, run.requests, tmp));
      }
    }),
  );

  const perRequest = new Map(
    fronts.map((f) => [f.name, (counts.get(`${f.name}/${MANY}`)! - counts.get(`${f.name}/${FEW}`)!) / (MANY - FEW)]),
  );
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
  fs.rmSync(tmp, { recursive: true, force: true });
}

try {
  await main();
} finally {
  stopAll();
}
