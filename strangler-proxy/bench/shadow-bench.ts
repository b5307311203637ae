// `npm run bench:shadow`: what shadowing costs the primary path. For 1 KB and 50 KB JSON answers,
// the proxy's saturation throughput (autocannon, its own process) and p99 at a fixed rate (paced
// evenly and timed to the microsecond, `paced-load.ts`) with shadow off and with `sampleRate: 1.0`
// (every request mirrored and compared), in interleaved rounds (BENCH_ROUNDS, 3), with the
// share actually mirrored beside the cost (copies past SHADOW_MAX_IN_FLIGHT are shed, and a cost
// measured with copies shed is not the cost of mirroring). Then, at a fixed rate the proxy keeps up
// with in both modes (BENCH_MIRROR_RATE, 3000 rps) so that nearly every request is mirrored, the CPU per
// request of each kind of thread — the event loop, the mirror worker, the rest (GC helpers) — and
// from it what mirroring every request costs the proxy's saturation throughput: when its event loop
// is the limit (the mirror worker on a core of its own) and when the whole process shares one core.
// (At saturation on this shared machine the proxy gets less CPU once mirroring starts, and CPU per
// request rises as throughput falls, so saturation runs overstate the cost per mirror.) Then the
// paced p99 with a healthy, a 5 s slow and a resetting shadow target, with how many copies failed
// and how many were not sent once the target's shadow breaker opened. Loopback only, bounded runs.
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
  pacedLoad,
  shadowRoutes,
  here,
  root,
  SECONDS,
  start,
  stopAll,
  threadCpuMicros,
  waitFor,
  type PacedResult,
  type Result,
} from './bench-tools.ts';

const FIXED_RATE = Number(process.env.BENCH_RATE ?? 1000);
const MIRROR_RATE = Number(process.env.BENCH_MIRROR_RATE ?? 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** BENCH_SIZES: the answer sizes of the cost rounds, in KB (`1,50`); empty for the slow and resetting targets' rounds alone. */
const SIZES = (process.env.BENCH_SIZES ?? '1,50')
  .split(',')
  .filter(Boolean)
  .map((kb) => Number(kb) * 1024);
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
/** BENCH_CPU_PROF=<dir>: the proxy of the saturation runs writes its `--cpu-prof` profiles there, one per thread. */
const CPU_PROF = process.env.BENCH_CPU_PROF;

async function upstream(size: number, mode = ''): Promise<string> {
  return `http://127.0.0.1:${await firstLine(start(process.execPath, [path.join(here, 'upstream-server.ts'), String(size), ...(mode ? [mode] : [])]))}`;
}

const table = (monolith: string, target: string, shadow: boolean): string => shadowRoutes(monolith, target, shadow, 1000);

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
  for (const size of SIZES) {
    const [monolith, target] = [await upstream(size), await upstream(size)];
    fs.writeFileSync(routes, table(monolith, target, false));
    const profile = CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', path.join(CPU_PROF, `${size / 1024}kb`)] : [];
    const proxy = start(process.execPath, [...profile, path.join(root, 'strangler-proxy/src/main.ts')], {
      ROUTES_FILE: routes,
      PROXY_PORT: '18180',
      ADMIN_PORT: '18181',
      ADMIN_TOKEN,
      LOG_LEVEL: 'warn',
    });
    await waitFor(`${proxyUrl}/api/x`);
    type Threads = { main: number; worker: number; other: number };
    type Run = { sat: Result; fixed: PacedResult; cpu: number; mirrored: number; dropped: number; steady: Threads & { share: number } };
    const runs: Record<'off' | 'on', Run[]> = { off: [], on: [] };
    // Interleaved rounds, so drift of this shared machine hits both modes alike; medians compared.
    for (let round = 1; round <= ROUNDS; round++) {
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
        const fixed = await pacedLoad(`${proxyUrl}/api/listings/1`, { rate: FIXED_RATE, connections: 16, seconds: 5 });
        const [steadyMirrored, threadsBefore] = [await counter(admin, 'mirrored'), threadCpuMicros(proxy.pid!)];
        const atRate = await autocannon(`${proxyUrl}/api/listings/1`, { rate: MIRROR_RATE, connections: 32, seconds: 6 });
        const threads = threadCpuMicros(proxy.pid!);
        const perReq = (t: number, before: number): number => (t - before) / atRate.requests;
        const steady = {
          main: perReq(threads.main, threadsBefore.main),
          worker: perReq(threads.workers, threadsBefore.workers),
          other: perReq(threads.other, threadsBefore.other),
          share: ((await counter(admin, 'mirrored')) - steadyMirrored) / atRate.requests,
        };
        runs[mode].push({ sat, fixed, cpu, mirrored, dropped, steady });
        console.log(
          `round ${round}  ${String(size / 1024).padStart(3)} KB shadow ${mode.padEnd(3)}  ${sat.rps.toFixed(0).padStart(6)} rps  p50 ${sat.p50} ms  p99 ${sat.p99} ms  errors ${sat.errors}  cpu ${cpu.toFixed(0)} µs/req` +
            (mode === 'on' ? `  mirrored ${mirrored} (${((100 * mirrored) / sat.requests).toFixed(0)} %), dropped ${dropped}` : '') +
            `  |  at ${FIXED_RATE} rps: p99 ${fixed.p99.toFixed(2)} ms  |  at ${MIRROR_RATE} rps: cpu µs/req event loop ${steady.main.toFixed(0)}, mirror worker ${steady.worker.toFixed(0)}, other ${steady.other.toFixed(0)}` +
            (mode === 'on' ? `, ${(steady.share * 100).toFixed(0)} % mirrored` : '') +
            `  |  cpu pressure ${cpuPressure().toFixed(0)} %`,
        );
      }
    }
    const med = (mode: 'off' | 'on', f: (r: Run) => number): number => median(runs[mode].map(f));
    const cost = 1 - med('on', (r) => r.sat.rps) / med('off', (r) => r.sat.rps);
    const share = med('on', (r) => r.mirrored / r.sat.requests);
    const target_ = size === 1024 ? 0.2 : 0.35;
    const verdict = (x: number): string => `≈ ${(x * 100).toFixed(1)} % (target ≤ ${target_ * 100} %: ${x <= target_ ? 'met' : 'NOT met'})`;
    // What one mirror costs each kind of thread at the fixed rate, over the share mirrored there.
    const steadyShare = med('on', (r) => r.steady.share);
    const perMirror = (f: (t: Threads) => number): number => (med('on', (r) => f(r.steady)) - med('off', (r) => f(r.steady))) / steadyShare;
    const [mainOff, allOff] = [med('off', (r) => r.steady.main), med('off', (r) => r.steady.main + r.steady.worker + r.steady.other)];
    const [mainPer, allPer] = [perMirror((t) => t.main), perMirror((t) => t.main + t.worker + t.other)];
    console.log(
      `${String(size / 1024).padStart(3)} KB shadow on at saturation: throughput −${(cost * 100).toFixed(1)} % with ${(share * 100).toFixed(0)} % of requests mirrored (the rest shed at SHADOW_MAX_IN_FLIGHT)\n` +
        `${String(size / 1024).padStart(3)} KB per mirror at ${MIRROR_RATE} rps (${(steadyShare * 100).toFixed(0)} % mirrored): event loop ${mainPer.toFixed(0)} µs, mirror worker ${perMirror((t) => t.worker).toFixed(0)} µs, other ${perMirror((t) => t.other).toFixed(0)} µs, against ${mainOff.toFixed(0)} µs of event loop and ${allOff.toFixed(0)} µs in all per request unmirrored\n` +
        `${String(size / 1024).padStart(3)} KB mirroring every request would cost: with the mirror worker on a core of its own ${verdict(1 - mainOff / (mainOff + mainPer))}; ` +
        `with the whole proxy on one core ${verdict(1 - allOff / (allOff + allPer))}`,
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
      const outcomes = ['failed', 'dropped_target_down', 'dropped_queue_full'];
      const before = await Promise.all(outcomes.map((o) => counter(admin, o)));
      const r = await pacedLoad(`${proxyUrl}/api/listings/1`, { rate: FIXED_RATE, connections: 16, seconds: 5 });
      const [failed, down, full] = (await Promise.all(outcomes.map((o) => counter(admin, o)))).map((n, i) => n - before[i]!);
      p99[name]!.push(r.p99);
      console.log(
        `round ${round + 1}: target ${name.padEnd(10)} at ${FIXED_RATE} rps: p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  errors ${r.errors}` +
          (on ? `  |  copies: failed ${failed}, not sent (shadow breaker open) ${down}, shed ${full}` : ''),
      );
    }
  }
  const base = median(p99.off!);
  for (const name of ['slow 5 s', 'resetting']) {
    const m = median(p99[name]!);
    console.log(
      `primary p99 with a ${name} target: median ${m.toFixed(2)} ms vs ${base.toFixed(2)} ms with shadow off: ${(((m - base) / base) * 100).toFixed(1)} %  (target ≤ 5 %)`,
    );
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

try {
  await main();
} finally {
  stopAll();
}
