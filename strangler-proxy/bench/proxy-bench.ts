// `npm run bench:proxy`: throughput and latency of the same 1 KiB JSON upstream reached directly,
// through the strangler proxy, and through nginx (when installed), measured side by side in one
// run by autocannon in its own process. Loopback only; every run is bounded in time.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  autocannon,
  CONNECTIONS,
  cpuMicros,
  firstLine,
  here,
  root,
  rssMiB,
  SECONDS,
  start,
  stopAll,
  waitFor,
  type Result,
} from './bench-tools.ts';

const FIXED_RATE = Number(process.env.BENCH_RATE ?? 1500);
// The upstream gets the same CPU whichever front is measured; the load generator runs in its own process.

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strangler-bench-'));
  const upstream = start(process.execPath, [path.join(here, 'upstream-server.ts'), '1024']);
  const upstreamUrl = `http://127.0.0.1:${await firstLine(upstream)}`;

  const routes = path.join(tmp, 'routes.yaml');
  fs.writeFileSync(
    routes,
    `version: 1\nupstreams:\n  monolith: { url: "${upstreamUrl}" }\nroutes:\n  - name: api\n    match: { path: /api/* }\n    mode: monolith\ndefault: monolith\n`,
  );
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
  console.log(
    `added p99 at ${FIXED_RATE} rps (strangler − direct): ${(fixed.strangler!.p99 - fixed.direct!.p99).toFixed(2)} ms  (target ≤ 2 ms)`,
  );
  fs.rmSync(tmp, { recursive: true, force: true });
}

try {
  await main();
} finally {
  stopAll();
}
