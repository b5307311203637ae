// `npm run bench:proxy`: the same 1 KiB JSON upstream reached directly, through two bare pipe
// proxies (Node's own floors: node:http's client, and undici's, which the strangler proxy forwards
// with), through the strangler proxy as `npm start` runs it (LOG_LEVEL info: an access log line per
// request, and its metrics), the same proxy without its access log (LOG_LEVEL warn: what the log
// costs, beside it), and through nginx when installed — side by side, in interleaved
// rounds, in one run. Per front: saturation throughput (autocannon, its own process), its ratio to
// nginx, the front process's CPU time per request at saturation and at the fixed rate (where each
// request pays its own wake-ups, so every front costs more per request), and p50/p99 at that rate
// (paced-load.ts, to the microsecond) with the p99 it adds to direct — direct paced in the same
// run, its requests alternating with the front's, so a stall of the machine costs both alike —,
// and the machine's CPU pressure meanwhile (other work waiting for a core inflates every figure).
// Loopback only, bounded.
//
// BENCH_ROUNDS (3), BENCH_SECONDS (8), BENCH_CONNECTIONS (64), BENCH_RATE (1500), BENCH_LOG_LEVEL
// (info), BENCH_CPU_PROF=<dir>: the strangler proxy runs under `--cpu-prof` and writes its profile
// there, the undici pipe its own in <dir>/undici-pipe, to read side by side (`profile-top.ts`).
// BENCH_BASELINE=<dir>: another checkout's proxy (`git archive <commit> | tar -x -C <dir>`, its
// node_modules linked to this one's) measured as a fifth front, `baseline`: before and after a
// change in the same rounds, on the same machine load.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  autocannon,
  CONNECTIONS,
  cpuMicros,
  cpuPressure,
  firstLine,
  median,
  here,
  pacedLoadTogether,
  root,
  rssMiB,
  SECONDS,
  start,
  stopAll,
  waitFor,
  writeMonolithRoutes,
  type PacedResult,
  type Result,
} from './bench-tools.ts';

const FIXED_RATE = Number(process.env.BENCH_RATE ?? 1500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info';
const CPU_PROF = process.env.BENCH_CPU_PROF;
const BASELINE = process.env.BENCH_BASELINE;

interface Front {
  name: string;
  url: string;
  child: ChildProcess | undefined;
}
interface Round {
  rps: number;
  cpuPerReq: number;
  /** CPU per request at the fixed rate: a wake-up per request or two, caches cold — dearer than at saturation, where one wake-up serves many. */
  pacedCpuPerReq: number;
  errors: number;
  fixed: PacedResult;
  /** Direct, paced in the same run as this front (its requests alternating with the front's): what the front adds is the difference. */
  besideDirect: PacedResult | undefined;
}

function nginxConf(tmp: string, upstreamHost: string): string {
  // One worker, as the proxy is one process; upstream keep-alive; loopback only; no access log
  // (nginx's floor, as the pipe proxy is Node's).
  return `worker_processes 1;\ndaemon off;\npid ${tmp}/nginx.pid;\nerror_log ${tmp}/error.log warn;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  client_body_temp_path ${tmp};\n  proxy_temp_path ${tmp};\n  upstream app { server ${upstreamHost}; keepalive 128; }\n  server {\n    listen 127.0.0.1:18082;\n    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }\n  }\n}\n`;
}

/** Runs `load`, and gives its result with the front's CPU per request over it (NaN for direct: no process of its own). */
async function withCpu<T>(f: Front, load: () => Promise<T>, requests: (r: T) => number): Promise<[T, number]> {
  const pid = f.child?.pid;
  const before = pid ? cpuMicros(pid) : 0;
  const r = await load();
  return [r, pid ? (cpuMicros(pid) - before) / requests(r) : NaN];
}

const range = (xs: number[], digits = 0): string => {
  const lo = Math.min(...xs).toFixed(digits);
  const hi = Math.max(...xs).toFixed(digits);
  return lo === hi ? lo : `${lo}–${hi}`;
};

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strangler-bench-'));
  const upstream = start(process.execPath, [path.join(here, 'upstream-server.ts'), '1024']);
  const upstreamUrl = `http://127.0.0.1:${await firstLine(upstream)}`;
  const fronts: Front[] = [{ name: 'direct', url: upstreamUrl, child: undefined }];

  const pipe = start(process.execPath, [path.join(here, 'pipe-proxy.ts'), upstreamUrl]);
  fronts.push({ name: 'node pipe', url: `http://127.0.0.1:${await firstLine(pipe)}`, child: pipe });
  const undiciPipe = start(process.execPath, [
    ...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', path.join(CPU_PROF, 'undici-pipe')] : []),
    path.join(here, 'undici-pipe.ts'),
    upstreamUrl,
  ]);
  fronts.push({ name: 'undici pipe', url: `http://127.0.0.1:${await firstLine(undiciPipe)}`, child: undiciPipe });

  const routes = writeMonolithRoutes(tmp, upstreamUrl);
  const proxyPort = 18080;
  const proxy = start(
    process.execPath,
    [...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : []), path.join(root, 'strangler-proxy/src/main.ts')],
    { ROUTES_FILE: routes, PROXY_PORT: String(proxyPort), ADMIN_PORT: '18081', LOG_LEVEL },
  );
  // Read as `npm start` reads it (a pipe to the parent), and counted: the access log's bytes.
  let logBytes = 0;
  proxy.stdout!.on('data', (d: Buffer) => (logBytes += d.length));
  const proxyUrl = `http://127.0.0.1:${proxyPort}`;
  await waitFor(`${proxyUrl}/api/x`);
  fronts.push({ name: 'strangler', url: proxyUrl, child: proxy });
  // Another proxy on the same table, its stdout read and let go.
  const addProxy = async (name: string, checkout: string, port: number, logLevel: string): Promise<void> => {
    const child = start(process.execPath, [path.join(checkout, 'strangler-proxy/src/main.ts')], {
      ROUTES_FILE: routes,
      PROXY_PORT: String(port),
      ADMIN_PORT: String(port + 1),
      LOG_LEVEL: logLevel,
    });
    child.stdout!.resume();
    await waitFor(`http://127.0.0.1:${port}/api/x`);
    fronts.push({ name, url: `http://127.0.0.1:${port}`, child });
  };
  // The same proxy with no access line written: the difference is the log's own cost.
  await addProxy('no log', root, 18085, 'warn');
  if (BASELINE) await addProxy('baseline', BASELINE, 18083, LOG_LEVEL);

  const nginxBin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));
  if (nginxBin) {
    const conf = path.join(tmp, 'nginx.conf');
    fs.writeFileSync(conf, nginxConf(tmp, new URL(upstreamUrl).host));
    const nginx = start(nginxBin, ['-c', conf, '-p', tmp]);
    await waitFor('http://127.0.0.1:18082/api/x');
    fronts.push({ name: 'nginx', url: 'http://127.0.0.1:18082', child: nginx });
  }

  console.log(
    `1 KiB JSON upstream; ${CONNECTIONS} connections; ${SECONDS} s per run; ${ROUNDS} rounds; fixed rate ${FIXED_RATE} rps; ` +
      `strangler LOG_LEVEL=${LOG_LEVEL}; ${os.cpus().length} cores; Node ${process.version}`,
  );
  if (!nginxBin) console.log('nginx not installed (apt-get install -y nginx): no reference ratio this run');

  const rounds = new Map<string, Round[]>(fronts.map((f) => [f.name, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const f of fronts) {
      const url = `${f.url}/api/listings/1`;
      await autocannon(url, { seconds: 2 }); // warm-up
      const logBefore = logBytes;
      const [s, cpuPerReq] = await withCpu(
        f,
        () => autocannon(url),
        (r: Result) => r.requests,
      );
      const pressure = cpuPressure();
      const [paced, pacedCpuPerReq] = await withCpu(
        f,
        () => pacedLoadTogether(f.name === 'direct' ? [url] : [url, `${upstreamUrl}/api/listings/1`], { rate: FIXED_RATE }),
        (r) => r[0]!.sent,
      );
      const [fixed, besideDirect] = [paced[0]!, paced[1]];
      rounds.get(f.name)!.push({ rps: s.rps, cpuPerReq, pacedCpuPerReq, errors: s.errors + fixed.errors, fixed, besideDirect });
      const logLine = f.child === proxy ? `  log ${((logBytes - logBefore) / s.requests).toFixed(0)} B/req` : '';
      console.log(
        `round ${round}  ${f.name.padEnd(11)} ${s.rps.toFixed(0).padStart(6)} rps  errors ${s.errors + fixed.errors}` +
          (f.child?.pid ? `  cpu ${cpuPerReq.toFixed(0).padStart(4)} µs/req  rss ${rssMiB(f.child.pid).toFixed(0)} MiB` : '') +
          `  |  at ${FIXED_RATE} rps:${f.child?.pid ? ` cpu ${pacedCpuPerReq.toFixed(0)} µs/req` : ''} p50 ${fixed.p50.toFixed(2)} ms  p99 ${fixed.p99.toFixed(2)} ms` +
          (besideDirect ? ` (direct beside it ${besideDirect.p99.toFixed(2)} ms)` : '') +
          `${logLine}  |  cpu pressure ${pressure.toFixed(0)} %`,
      );
    }
  }

  // Ratios are taken within a round (the same machine load for every front), then ranged.
  const ratio = (a: string, b: string): number[] => rounds.get(a)!.map((r, i) => r.rps / rounds.get(b)![i]!.rps);
  const added = (a: string): number[] => rounds.get(a)!.map((r) => r.fixed.p99 - r.besideDirect!.p99);
  const pacedCpu = (a: string): string => median(rounds.get(a)!.map((r) => r.pacedCpuPerReq)).toFixed(0);
  const hasNginx = rounds.has('nginx');
  console.log('');
  console.log(
    `${'front'.padEnd(11)} ${'rps'.padStart(13)}  ${'÷ nginx'.padStart(9)}  ${'cpu µs/req'.padStart(10)}  ${`at ${FIXED_RATE}`.padStart(9)}  ${'p50 ms'.padStart(11)}  ${'p99 ms'.padStart(11)}  ${'added p99 ms'.padStart(12)}  errors`,
  );
  for (const [name, rs] of rounds) {
    console.log(
      `${name.padEnd(11)} ${range(rs.map((r) => r.rps)).padStart(13)}  ${(hasNginx ? range(ratio(name, 'nginx'), 2) : '–').padStart(9)}  ` +
        `${(name === 'direct' ? '–' : range(rs.map((r) => r.cpuPerReq))).padStart(10)}  ${(name === 'direct' ? '–' : range(rs.map((r) => r.pacedCpuPerReq))).padStart(9)}  ${range(
          rs.map((r) => r.fixed.p50),
          2,
        ).padStart(11)}  ${range(
          rs.map((r) => r.fixed.p99),
          2,
        ).padStart(11)}  ${(name === 'direct' ? '–' : range(added(name), 2)).padStart(12)}  ${rs.reduce((n, r) => n + r.errors, 0)}`,
    );
  }
  console.log('');
  if (hasNginx)
    console.log(
      `strangler ÷ nginx throughput: median ${median(ratio('strangler', 'nginx')).toFixed(2)} (target ≥ 0.40); Node's floors ÷ nginx: node pipe ${median(ratio('node pipe', 'nginx')).toFixed(2)}, undici pipe ${median(ratio('undici pipe', 'nginx')).toFixed(2)}`,
    );
  console.log(
    `strangler CPU per request: median ${median(rounds.get('strangler')!.map((r) => r.cpuPerReq)).toFixed(0)} µs at saturation (target ≤ 100), ` +
      `${pacedCpu('strangler')} µs at ${FIXED_RATE} rps (undici pipe ${pacedCpu('undici pipe')}, node pipe ${pacedCpu('node pipe')}${hasNginx ? `, nginx ${pacedCpu('nginx')}` : ''}); ` +
      `added p99 at ${FIXED_RATE} rps: median ${median(added('strangler')).toFixed(2)} ms (target ≤ 1; in the same rounds node pipe ${median(added('node pipe')).toFixed(2)} ms` +
      (hasNginx ? `, nginx ${median(added('nginx')).toFixed(2)} ms)` : ')'),
  );
  // Node's own pipe pays the same machine's stalls: what the proxy adds beyond that floor, round by round.
  const pipeAdded = added('node pipe');
  const beyondPipe = added('strangler').map((a, i) => a - pipeAdded[i]!);
  console.log(
    `strangler's added p99 beyond the node pipe's, per round: ${beyondPipe.map((d) => d.toFixed(2)).join(', ')} ms (median ${median(beyondPipe).toFixed(2)})`,
  );

  if (LOG_LEVEL === 'info') {
    const cpu = (name: string): number[] => rounds.get(name)!.map((r) => r.cpuPerReq);
    const [logged, unlogged] = [cpu('strangler'), cpu('no log')];
    const extra = logged.map((c, i) => c - unlogged[i]!);
    console.log(
      `the access log's cost: median ${median(extra).toFixed(1)} µs of CPU per request (${median(extra.map((e, i) => (e * 100) / logged[i]!)).toFixed(1)} % of the proxy's), ` +
        `throughput with it ÷ without ${median(ratio('strangler', 'no log')).toFixed(2)}, in the same rounds`,
    );
  }

  if (CPU_PROF) {
    await Promise.all(
      [proxy, undiciPipe].map((child) => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        return exited;
      }),
    );
    console.log(
      `cpu profiles of the strangler proxy written to ${CPU_PROF}, of the undici pipe to ${path.join(CPU_PROF, 'undici-pipe')}; ` +
        `side by side: node strangler-proxy/bench/profile-top.ts ${CPU_PROF}/<main thread's>.cpuprofile 30 ${path.join(CPU_PROF, 'undici-pipe')}/<its>.cpuprofile`,
    );
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

try {
  await main();
} finally {
  stopAll();
}
