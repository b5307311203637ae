// `npm run bench:proxy`: throughput and latency of the same 1 KiB JSON upstream reached directly,
// through the strangler proxy, and through nginx (when installed), measured side by side in one
// run by autocannon in its own process. Loopback only; every run is bounded in time.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const FIXED_RATE = Number(process.env.BENCH_RATE ?? 1500);
const children: ChildProcess[] = [];
// The upstream gets the same CPU whichever front is measured; the load generator runs in its own process.

function start(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return child;
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]!.trim());
    });
    child.once('exit', (code) => reject(new Error(`${child.spawnfile} exited with ${code}`)));
  });
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
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
function processTree(pid: number): number[] {
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

/** CPU time (user + system) of a process and its children, microseconds. */
function cpuMicros(pid: number): number {
  return processTree(pid).reduce((sum, p) => {
    const fields = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return sum + ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLK_TCK;
  }, 0);
}
function rssMiB(pid: number): number {
  return processTree(pid).reduce((sum, p) => {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
    return sum + (m ? Number(m[1]) / 1024 : 0);
  }, 0);
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
}

function autocannon(url: string, opts: { seconds?: number; connections?: number; rate?: number } = {}): Promise<Result> {
  const args = ['-j', '-c', String(opts.connections ?? CONNECTIONS), '-d', String(opts.seconds ?? SECONDS), ...(opts.rate ? ['--overallRate', String(opts.rate)] : []), url];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'node_modules/autocannon/autocannon.js'), ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.once('exit', () => {
      try {
        const r = JSON.parse(out);
        resolve({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, requests: r.requests.total, errors: r.errors + r.non2xx });
      } catch (err) {
        reject(new Error(`autocannon gave no result: ${(err as Error).message}`));
      }
    });
  });
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strangler-bench-'));
  const upstream = start(process.execPath, [path.join(here, 'upstream-server.ts'), '1024']);
  const upstreamUrl = `http://127.0.0.1:${await firstLine(upstream)}`;

  const routes = path.join(tmp, 'routes.yaml');
  fs.writeFileSync(routes, `version: 1\nupstreams:\n  monolith: { url: "${upstreamUrl}" }\nroutes:\n  - name: api\n    match: { path: /api/* }\n    mode: monolith\ndefault: monolith\n`);
  const proxyPort = 18080;
  const proxy = start(process.execPath, [path.join(root, 'strangler-proxy/src/main.ts')], {
    ROUTES_FILE: routes,
    PROXY_PORT: String(proxyPort),
    ADMIN_PORT: '18081',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
  });
  const proxyUrl = `http://127.0.0.1:${proxyPort}`;
  await waitFor(`${proxyUrl}/api/x`);

  let nginxUrl: string | undefined;
  let nginx: ChildProcess | undefined;
  const nginxBin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));
  if (nginxBin) {
    const conf = path.join(tmp, 'nginx.conf');
    // One worker, as the proxy is one process; upstream keep-alive; loopback only.
    fs.writeFileSync(
      conf,
      `worker_processes 1;\ndaemon off;\npid ${tmp}/nginx.pid;\nerror_log ${tmp}/error.log warn;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  client_body_temp_path ${tmp};\n  proxy_temp_path ${tmp};\n  upstream app { server ${new URL(upstreamUrl).host}; keepalive 128; }\n  server {\n    listen 127.0.0.1:18082;\n    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }\n  }\n}\n`,
    );
    nginx = start(nginxBin, ['-c', conf, '-p', tmp]);
    nginxUrl = 'http://127.0.0.1:18082';
    await waitFor(`${nginxUrl}/api/x`);
  }

  const targets: [string, string, ChildProcess | undefined][] = [
    ['direct', upstreamUrl, undefined],
    ['strangler', proxyUrl, proxy],
    ...(nginxUrl ? ([['nginx', nginxUrl, nginx]] as [string, string, ChildProcess | undefined][]) : []),
  ];
  console.log(`1 KiB JSON upstream; ${CONNECTIONS} connections; ${SECONDS} s per run; ${os.cpus().length} cores; Node ${process.version}`);
  const saturation: Record<string, Result> = {};
  const fixed: Record<string, Result> = {};
  for (const [name, url, child] of targets) {
    await autocannon(`${url}/api/listings/1`, { seconds: 2 }); // warm-up
    const cpuBefore = child?.pid ? cpuMicros(child.pid) : 0;
    saturation[name] = await autocannon(`${url}/api/listings/1`);
    const cpu = child?.pid ? (cpuMicros(child.pid) - cpuBefore) / saturation[name]!.requests : NaN;
    // Fewer connections at a fixed rate, so the pacing itself does not queue requests.
    fixed[name] = await autocannon(`${url}/api/listings/1`, { rate: FIXED_RATE, connections: 16 });
    const s = saturation[name]!;
    const f = fixed[name]!;
    console.log(
      `${name.padEnd(10)} saturation ${s.rps.toFixed(0).padStart(6)} rps  p50 ${s.p50} ms  p99 ${s.p99} ms  errors ${s.errors}` +
        (child?.pid ? `  cpu ${cpu.toFixed(0)} µs/req  rss ${rssMiB(child.pid).toFixed(0)} MiB` : '') +
        `  |  at ${FIXED_RATE} rps: p50 ${f.p50} ms  p99 ${f.p99} ms`,
    );
  }
  const s = saturation;
  console.log(`ratio strangler/direct throughput: ${(s.strangler!.rps / s.direct!.rps).toFixed(2)}`);
  if (s.nginx) console.log(`ratio strangler/nginx throughput:  ${(s.strangler!.rps / s.nginx.rps).toFixed(2)}  (target ≥ 0.30)`);
  else console.log('nginx not installed (apt-get install -y nginx): no reference ratio this run');
  console.log(`added p99 at ${FIXED_RATE} rps (strangler − direct): ${(fixed.strangler!.p99 - fixed.direct!.p99).toFixed(2)} ms  (target ≤ 2 ms)`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

try {
  await main();
} finally {
  for (const c of children) c.kill('SIGTERM');
}
