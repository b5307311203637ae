// `npm run bench:shadow`: what shadowing costs the primary path. For 1 KB and 50 KB JSON answers,
// the proxy's throughput and p99 with shadow off and with `sampleRate: 1.0` (every request mirrored
// and compared), measured side by side in one run by autocannon in its own process; then p99 at a
// fixed rate with a healthy, a 5 s slow and a resetting shadow target. Loopback only, bounded runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { autocannon, CONNECTIONS, cpuMicros, firstLine, here, root, SECONDS, start, stopAll, waitFor, type Result } from './bench-tools.ts';

const FIXED_RATE = Number(process.env.BENCH_RATE ?? 1000);
const ADMIN_TOKEN = 'bench-admin-token-0123456789';

async function upstream(size: number, mode = ''): Promise<string> {
  return `http://127.0.0.1:${await firstLine(start(process.execPath, [path.join(here, 'upstream-server.ts'), String(size), ...(mode ? [mode] : [])]))}`;
}

function table(monolith: string, target: string, shadow: boolean): string {
  return `version: 1
upstreams:
  monolith: { url: "${monolith}" }
  target: { url: "${target}" }
routes:
  - name: api
    match: { path: /api/* }
    mode: ${shadow ? 'shadow' : 'monolith'}
    target: target
    shadow: { sampleRate: 1.0, timeoutMs: 1000 }
default: monolith
`;
}

/** Switches the running proxy's table and waits until it serves it. */
async function serve(routes: string, text: string, admin: string): Promise<void> {
  fs.writeFileSync(routes, text);
  const res = await fetch(`${admin}/__strangler/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (!res.ok) throw new Error(`reload failed: ${res.status} ${await res.text()}`);
}

async function counter(admin: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${admin}/__strangler/metrics`)).text();
  return Number(new RegExp(`strangler_shadow_requests_total\\{route="api",outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strangler-shadow-bench-'));
  const routes = path.join(tmp, 'routes.yaml');
  const admin = 'http://127.0.0.1:18181';
  const proxyUrl = 'http://127.0.0.1:18180';
  console.log(
    `shadow cost; ${CONNECTIONS} connections; ${SECONDS} s per saturation run; ${os.cpus().length} cores; Node ${process.version}`,
  );
  for (const size of [1024, 50 * 1024]) {
    const [monolith, target] = [await upstream(size), await upstream(size)];
    fs.writeFileSync(routes, table(monolith, target, false));
    const proxy = start(process.execPath, [path.join(root, 'strangler-proxy/src/main.ts')], {
      ROUTES_FILE: routes,
      PROXY_PORT: '18180',
      ADMIN_PORT: '18181',
      ADMIN_TOKEN,
      LOG_LEVEL: 'warn',
    });
    await waitFor(`${proxyUrl}/api/x`);
    const runs: Record<string, { sat: Result; fixed: Result; cpu: number; mirrored: number; dropped: number }> = {};
    for (const mode of ['off', 'on'] as const) {
      await serve(routes, table(monolith, target, mode === 'on'), admin);
      await autocannon(`${proxyUrl}/api/listings/1`, { seconds: 2 });
      const [mirroredBefore, droppedBefore, cpuBefore] = [
        await counter(admin, 'mirrored'),
        await counter(admin, 'dropped_queue_full'),
        cpuMicros(proxy.pid!),
      ];
      const sat = await autocannon(`${proxyUrl}/api/listings/1`);
      const cpu = (cpuMicros(proxy.pid!) - cpuBefore) / sat.requests;
      const [mirrored, dropped] = [
        (await counter(admin, 'mirrored')) - mirroredBefore,
        (await counter(admin, 'dropped_queue_full')) - droppedBefore,
      ];
      const fixed = await autocannon(`${proxyUrl}/api/listings/1`, { rate: FIXED_RATE, connections: 16, seconds: 5 });
      runs[mode] = { sat, fixed, cpu, mirrored, dropped };
      console.log(
        `${String(size / 1024).padStart(3)} KB shadow ${mode.padEnd(3)}  ${sat.rps.toFixed(0).padStart(6)} rps  p50 ${sat.p50} ms  p99 ${sat.p99} ms  errors ${sat.errors}  cpu ${cpu.toFixed(0)} µs/req` +
          (mode === 'on' ? `  mirrored ${mirrored} (${((100 * mirrored) / sat.requests).toFixed(0)} %), dropped ${dropped}` : '') +
          `  |  at ${FIXED_RATE} rps: p99 ${runs[mode]!.fixed.p99} ms`,
      );
    }
    const cost = 1 - runs.on!.sat.rps / runs.off!.sat.rps;
    const target_ = size === 1024 ? 0.2 : 0.35;
    console.log(
      `${String(size / 1024).padStart(3)} KB throughput cost of shadowing everything: ${(cost * 100).toFixed(1)} %  (target ≤ ${target_ * 100} %: ${cost <= target_ ? 'met' : 'NOT met'})`,
    );
    stopAll();
    await new Promise((r) => setTimeout(r, 500));
  }

  // A target that is slow or broken must not reach the client: p99 at a fixed rate, same run.
  const monolith = await upstream(1024);
  const healthy = await upstream(1024);
  const slow = await upstream(1024, 'delay=5000');
  const broken = await upstream(1024, 'reset');
  fs.writeFileSync(routes, table(monolith, healthy, false));
  start(process.execPath, [path.join(root, 'strangler-proxy/src/main.ts')], {
    ROUTES_FILE: routes,
    PROXY_PORT: '18180',
    ADMIN_PORT: '18181',
    ADMIN_TOKEN,
    LOG_LEVEL: 'warn',
  });
  await waitFor(`${proxyUrl}/api/x`);
  // Three rounds, interleaved, so drift of this shared machine hits every mode alike; medians compared.
  const p99: Record<string, number[]> = { off: [], 'slow 5 s': [], resetting: [] };
  for (let round = 0; round < 3; round++) {
    for (const [name, target, on] of [
      ['off', healthy, false],
      ['slow 5 s', slow, true],
      ['resetting', broken, true],
    ] as const) {
      await serve(routes, table(monolith, target, on), admin);
      await autocannon(`${proxyUrl}/api/listings/1`, { seconds: 1, rate: FIXED_RATE, connections: 16 });
      const r = await autocannon(`${proxyUrl}/api/listings/1`, { rate: FIXED_RATE, connections: 16, seconds: 5 });
      p99[name]!.push(r.p99);
      console.log(
        `round ${round + 1}: target ${name.padEnd(10)} at ${FIXED_RATE} rps: p50 ${r.p50} ms  p99 ${r.p99} ms  errors ${r.errors}`,
      );
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(p99.off!);
  for (const name of ['slow 5 s', 'resetting']) {
    const m = median(p99[name]!);
    console.log(
      `primary p99 with a ${name} target: median ${m} ms vs ${base} ms with shadow off: ${(((m - base) / base) * 100).toFixed(1)} %  (target ≤ 5 %; autocannon reports whole ms)`,
    );
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

try {
  await main();
} finally {
  stopAll();
}
