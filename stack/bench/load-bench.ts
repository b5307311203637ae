// `npm run bench:load`: users through the whole stack — the proxy, the monolith, the services, the
// replicator, PostgreSQL — as `npm start` runs it, in one or more routing presets side by side.
// The users (load-scenario.ts) run in a process of their own; this one starts the stack, prints a
// progress line, then per endpoint the requests, rps, p50/p95/p99/max and the errors by status, and
// the CPU each process used (the generator's own included), so that where the time goes is visible.
// With --step it steps the users up until p99 crosses 100 ms or an error appears. Loopback only;
// every run is bounded by its steps' durations.
//
//   npm run bench:load -- [--users 1000] [--duration 30] [--step [100,250,500,1000,1500]]
//                         [--presets mixed | monolith,services] [--url http://127.0.0.1:8080]
//                         [--login-share 0.1] [--ramp S] [--think 1000-3000] [--cpu-prof DIR] [--json]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isPreset, PRESETS, type Preset } from '@strangler/reference-migration';
import { repoRoot } from '../src/index.ts';
import { DB_PREFIX, startBenchPostgres, startBenchStack, type BenchStack } from './bench-stack.ts';
import type { Progress, ScenarioOptions, ScenarioResult } from './load-scenario.ts';
import { cpuSnapshot, cpuUse, type CpuUse } from './process-cpu.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const P99_BUDGET_MS = 100;
const DEFAULT_STEPS = [100, 250, 500, 1000, 1500];

function usage(message: string): never {
  console.error(`bench:load: ${message}
usage: npm run bench:load -- [--users N] [--duration S] [--step [N,N,…]] [--presets P,P] [--url URL]
                             [--login-share F] [--ramp S] [--think MIN-MAX (ms)] [--cpu-prof DIR] [--json]`);
  process.exit(2);
}

function positive(name: string, value: string | undefined, fallback: number, integer = true): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    usage(`--${name} must be a positive ${integer ? 'whole ' : ''}number, got "${value}"`);
  return n;
}

let args: ReturnType<typeof parse>;
function parse() {
  // `--step` alone means the default steps; `--step 100,200` names them.
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--step');
  if (i >= 0 && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--'))) argv.splice(i + 1, 0, DEFAULT_STEPS.join(','));
  return parseArgs({
    args: argv,
    options: {
      users: { type: 'string' },
      duration: { type: 'string' },
      step: { type: 'string' },
      presets: { type: 'string' },
      url: { type: 'string' },
      'login-share': { type: 'string' },
      ramp: { type: 'string' },
      think: { type: 'string' },
      'cpu-prof': { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  }).values;
}
try {
  args = parse();
} catch (err) {
  usage((err as Error).message);
}

const seconds = positive('duration', args.duration, 30);
const steps = args.step ? args.step.split(',').map((s) => positive('step', s, 0)) : [positive('users', args.users, 1000)];
const loginShare = args['login-share'] === undefined ? 0.1 : Number(args['login-share']);
if (!(loginShare >= 0 && loginShare <= 1)) usage(`--login-share must be from 0 to 1, got "${args['login-share']}"`);
const ramp = args.ramp === undefined ? undefined : positive('ramp', args.ramp, 0, false);
const presets = (args.presets ?? 'mixed')
  .split(',')
  .map((p) => (isPreset(p) ? p : usage(`--presets: "${p}" is none of ${Object.keys(PRESETS).join(', ')}`)));
if (args.url && args.presets) usage('--url measures the stack already running there: its preset is its own, so leave --presets out');
if (args.url && !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/?$/.test(args.url))
  usage(`--url must be a loopback http URL (http://127.0.0.1:8080), got "${args.url}"`);
const thinkMatch = /^(\d+)-(\d+)$/.exec(args.think ?? '1000-3000');
if (!thinkMatch || Number(thinkMatch[1]) > Number(thinkMatch[2])) usage(`--think must be MIN-MAX in ms (1000-3000), got "${args.think}"`);
const thinkMs: [number, number] = [Number(thinkMatch[1]), Number(thinkMatch[2])];
const cpuProfDir = args['cpu-prof'] ? path.resolve(args['cpu-prof']) : undefined;

interface Step {
  result: ScenarioResult;
  cpu: CpuUse;
  /** The proxy's event-loop delay while measuring, read every second from its metrics: the worst second's p99 and the max, ms; unknown with --url. */
  proxyEventLoop: { p99: number; max: number } | undefined;
}
interface PresetRun {
  preset: string;
  steps: Step[];
  /** The first users count whose p99 was over the budget or that had errors. */
  crossedAt: number | undefined;
}

const ms = (v: number): string => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : '—');
const errorsText = (e: Record<string, number>): string =>
  Object.entries(e)
    .map(([k, n]) => `${n}×${k}`)
    .join(' ') || '0';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

function report(preset: string, step: Step): string {
  const { result: r, cpu } = step;
  const loop = step.proxyEventLoop;
  const rows = [['endpoint', 'requests', 'rps', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'errors']];
  for (const [name, e] of Object.entries(r.endpoints)) {
    rows.push([name, String(e.requests), e.rps.toFixed(1), ms(e.p50), ms(e.p95), ms(e.p99), ms(e.max), errorsText(e.errors)]);
  }
  rows.push(['all', String(r.requests), r.rps.toFixed(1), ms(r.all.p50), ms(r.all.p95), ms(r.all.p99), ms(r.all.max), String(r.errors)]);
  const procs = Object.entries(cpu.processes)
    .sort((a, b) => b[1] - a[1])
    .map(([name, pct]) => `${name} ${pct.toFixed(0)}%`)
    .join(', ');
  // The stack's own cost per answer: every process but the generator and this runner.
  const stackPercent = Object.entries(cpu.processes).reduce(
    (sum, [name, pct]) => (name === 'generator' || name === 'runner' ? sum : sum + pct),
    0,
  );
  return [
    `${preset}: ${r.users} users (${r.loggedIn} logged in), ${r.seconds.toFixed(0)} s measured after a ${r.rampSeconds.toFixed(0)} s ramp, think ${thinkMs[0]}–${thinkMs[1]} ms; orders placed ${r.orders.placed}, replayed ${r.orders.replayed}, cancelled ${r.orders.cancelled}`,
    table(rows),
    `TCP connections opened while measuring: ${r.connects.count}, handshake p50 ${ms(r.connects.p50)} ms, p99 ${ms(r.connects.p99)} ms, max ${ms(r.connects.max)} ms`,
    `CPU (% of one core; the machine has ${os.cpus().length}): ${procs}; the stack ${stackPercent.toFixed(0)}%, ${((stackPercent * 10_000) / r.rps).toFixed(0)} µs per request; machine busy ${cpu.machineBusyPercent.toFixed(0)}% of all cores, of which other work ${cpu.othersPercent.toFixed(0)}% of one core (${cpu.topOthers.map(([c, p]) => `${c} ${p.toFixed(0)}%`).join(', ')}); CPU pressure avg10 ${cpu.pressure}`,
    ...(loop ? [`proxy event-loop delay while measuring: worst second's p99 ${ms(loop.p99)} ms, max ${ms(loop.max)} ms`] : []),
    `generator: ${r.generator.cpuPercent.toFixed(0)}% of one core, ${r.generator.cpuMicrosPerRequest.toFixed(0)} µs per request, event-loop delay p99 ${r.generator.eventLoopP99Ms.toFixed(1)} ms`,
  ].join('\n');
}

function progressLine(preset: string, users: number, p: Progress): string {
  return `${preset} ${users} users: ${p.elapsedS.toFixed(0)} s ${p.measuring ? 'measuring' : 'ramp'}, ${p.users} started, ${p.rps} rps, p99 last 5 s ${ms(p.p99Recent)} ms, p99 so far ${ms(p.p99)} ms, errors ${p.errors}`;
}

/** One step: the users in their own process against `url`, the processes' CPU over the measured window. */
/**
 * The proxy's event-loop delay since its metrics were last read (prom-client resets the histogram
 * at each scrape): a proxy that stalls delays every request it has not yet read, which its access
 * log's `ms` cannot show.
 */
async function proxyEventLoop(adminUrl: string): Promise<{ p99: number; max: number } | undefined> {
  try {
    const text = await (await fetch(`${adminUrl}/__strangler/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const read = (name: string): number =>
      Number(new RegExp(`^strangler_process_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)?.[1]) * 1000;
    return { p99: read('p99'), max: read('max') };
  } catch {
    return undefined;
  }
}

function runStep(preset: string, url: string, adminUrl: string | undefined, users: number): Promise<Step> {
  const opts: Omit<ScenarioOptions, 'onProgress'> = { url, users, seconds, loginShare, thinkMs, ...(ramp ? { rampSeconds: ramp } : {}) };
  const child = spawn(process.execPath, [path.join(here, 'load-users.ts'), JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const tty = process.stderr.isTTY;
  let windowStart: ReturnType<typeof cpuSnapshot> | undefined;
  let windowEnd: ReturnType<typeof cpuSnapshot> | undefined;
  let lastPrinted = 0;
  let buffered = '';
  let result: ScenarioResult | undefined;
  let loop: Promise<Step['proxyEventLoop']> = Promise.resolve(undefined);
  child.stdout.on('data', (d: Buffer) => {
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, nl)) as { progress?: Progress; result?: ScenarioResult };
      buffered = buffered.slice(nl + 1);
      if (line.progress) {
        if (line.progress.measuring) {
          windowEnd = cpuSnapshot(child.pid!, adminUrl ? DB_PREFIX : undefined);
          // The first read only resets the proxy's histogram; each later one covers the second before it.
          if (adminUrl) {
            const first = !windowStart;
            const read = proxyEventLoop(adminUrl);
            loop = first
              ? read.then(() => undefined)
              : Promise.all([loop, read]).then(([a, b]) =>
                  a && b ? { p99: Math.max(a.p99, b.p99), max: Math.max(a.max, b.max) } : (a ?? b),
                );
          }
          windowStart ??= windowEnd;
        }
        // On a terminal one line rewritten every second; in a log, one line every 5 s.
        if (tty) process.stderr.write(`\r\x1b[2K${progressLine(preset, users, line.progress)}`);
        else if (line.progress.elapsedS - lastPrinted >= 5) {
          lastPrinted = line.progress.elapsedS;
          console.error(progressLine(preset, users, line.progress));
        }
      }
      if (line.result) result = line.result;
    }
  });
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => {
      if (tty) process.stderr.write('\r\x1b[2K');
      if (!result || !windowStart || !windowEnd)
        return reject(new Error(`the load generator exited with code ${code} before it had figures`));
      const figures = { result, cpu: cpuUse(windowStart, windowEnd) };
      void loop.then((proxyEventLoop) => resolve({ ...figures, proxyEventLoop }));
    }),
  );
}

async function runPreset(preset: string, url: string, adminUrl: string | undefined): Promise<PresetRun> {
  const run: PresetRun = { preset, steps: [], crossedAt: undefined };
  for (const users of steps) {
    const step = await runStep(preset, url, adminUrl, users);
    run.steps.push(step);
    if (!args.json) console.log(`\n${report(preset, step)}\n`);
    if (step.result.all.p99 > P99_BUDGET_MS || step.result.errors > 0) {
      run.crossedAt = users;
      break;
    }
  }
  return run;
}

function sideBySide(runs: PresetRun[]): string {
  const lines = [`\nSide by side (p99 ms per endpoint at the largest users count every preset ran):`];
  const common = Math.min(...runs.map((r) => r.steps.at(-1)!.result.users));
  const at = runs.map((r) => r.steps.find((s) => s.result.users === common) ?? r.steps.at(-1)!);
  const names = [...new Set(at.flatMap((s) => Object.keys(s.result.endpoints)))].sort();
  const rows = [['endpoint', ...runs.map((r) => `${r.preset} p99`)]];
  for (const n of names) rows.push([n, ...at.map((s) => ms(s.result.endpoints[n]?.p99 ?? NaN))]);
  rows.push(['all p99', ...at.map((s) => ms(s.result.all.p99))]);
  rows.push(['all p50', ...at.map((s) => ms(s.result.all.p50))]);
  rows.push(['rps', ...at.map((s) => s.result.rps.toFixed(0))]);
  rows.push(['errors', ...at.map((s) => String(s.result.errors))]);
  rows.push([`users (each at ${common})`, ...at.map((s) => String(s.result.users))]);
  lines.push(table(rows));
  return lines.join('\n');
}

function crossing(run: PresetRun): string {
  const ran = run.steps.map((s) => `${s.result.users}: p99 ${ms(s.result.all.p99)} ms, ${s.result.errors} errors`).join('; ');
  return run.crossedAt === undefined
    ? `${run.preset}: p99 stayed under ${P99_BUDGET_MS} ms with 0 errors up to ${run.steps.at(-1)!.result.users} users (${ran})`
    : `${run.preset}: p99 over ${P99_BUDGET_MS} ms or errors at ${run.crossedAt} users (${ran})`;
}

const runs: PresetRun[] = [];
let current: BenchStack | undefined;
let exitCode = 0;
const interrupted = async (): Promise<void> => {
  await current?.stop().catch(() => {});
  process.exit(130);
};
process.on('SIGINT', () => void interrupted());
process.on('SIGTERM', () => void interrupted());

if (args.url) {
  runs.push(await runPreset('target', args.url, undefined));
} else {
  const logFile = path.join(repoRoot, '.data', 'loadbench.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  if (cpuProfDir) fs.mkdirSync(cpuProfDir, { recursive: true });
  console.error(`bench:load: the stack's logs go to ${path.relative(process.cwd(), logFile)}`);
  const server = await startBenchPostgres((l) => fs.appendFileSync(logFile, `${l}\n`));
  try {
    for (const preset of presets as Preset[]) {
      console.error(`bench:load: starting the stack in preset ${preset}…`);
      current = await startBenchStack(preset, {
        serverUrl: server.url,
        logFile,
        ...(cpuProfDir ? { cpuProfDir } : {}),
        onUnexpectedExit: (name, code) => {
          console.error(`bench:load: ${name} exited unexpectedly (code ${code}); see ${logFile}`);
          exitCode = 1;
        },
      });
      try {
        runs.push(await runPreset(preset, current.url, current.adminUrl));
      } finally {
        await current.stop();
        current = undefined;
      }
    }
  } finally {
    await server.stop();
  }
}

if (args.json) {
  console.log(
    JSON.stringify(
      runs.map((r) => ({ preset: r.preset, crossedAt: r.crossedAt, steps: r.steps })),
      null,
      2,
    ),
  );
} else {
  if (runs.length > 1) console.log(sideBySide(runs));
  if (args.step) console.log(['', ...runs.map(crossing)].join('\n'));
  if (cpuProfDir) console.log(`\nCPU profiles in ${cpuProfDir} (node strangler-proxy/bench/profile-top.ts FILE summarises one)`);
}
process.exit(exitCode);
