// Where the CPU goes during a bench:load step, from /proc: each of the stack's processes (named by
// the script it runs), the load generator, this runner, PostgreSQL — the embedded server's processes,
// or on a shared server (DATABASE_URL) the backends serving the bench's databases, told by the
// database name in their process title — and the rest of the machine's work, which on a shared
// machine inflates every latency.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

const SCRIPTS: [RegExp, string][] = [
  [/monolith\/src\/server\.ts/, 'monolith'],
  [/extracted\/(\w+)\/src\/server\.ts/, '$1'],
  [/strangler-data\/src\/main\.ts/, 'sync'],
  [/strangler-proxy\/src\/main\.ts/, 'proxy'],
];

export interface CpuSnapshot {
  at: number;
  /** CPU time by process name, µs. */
  processes: Map<string, number>;
  /** CPU time of every other process by `pid comm`, µs: who else was busy. */
  others: Map<string, number>;
  machineBusy: number;
  machineTotal: number;
}

export interface CpuUse {
  /** % of one core, by process name. */
  processes: Record<string, number>;
  /** % of all cores. */
  machineBusyPercent: number;
  /** % of one core used by processes that are not the bench's. */
  othersPercent: number;
  /** The busiest of those, `comm` and % of one core. */
  topOthers: [string, number][];
  /** /proc/pressure/cpu `some avg10` at the end, or `n/a`. */
  pressure: string;
}

function stat(pid: string): { comm: string; ppid: number; micros: number } | undefined {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = raw.lastIndexOf(')');
    const fields = raw.slice(close + 2).split(' ');
    return {
      comm: raw.slice(raw.indexOf('(') + 1, close),
      ppid: Number(fields[1]),
      micros: ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLK_TCK,
    };
  } catch {
    return undefined; // gone meanwhile
  }
}

function cmdlineOf(pid: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined; // gone meanwhile
  }
}

function nameOf(pid: string, comm: string, generatorPid: number): string | undefined {
  if (Number(pid) === generatorPid) return 'generator';
  if (Number(pid) === process.pid) return 'runner';
  if (comm === 'postgres') return 'postgres';
  const cmdline = cmdlineOf(pid);
  if (cmdline === undefined) return undefined;
  for (const [re, name] of SCRIPTS) {
    const m = re.exec(cmdline);
    if (m) return name.replace('$1', m[1] ?? '');
  }
  return undefined;
}

/**
 * `databasePrefix`: the bench's databases on a server that is not its own; without it (--url) every
 * PostgreSQL process of the machine counts as the stack's.
 */
export function cpuSnapshot(generatorPid: number, databasePrefix?: string): CpuSnapshot {
  const procs = new Map<string, { comm: string; ppid: number; micros: number }>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = stat(d);
    if (s) procs.set(d, s);
  }
  // This runner's descendants are the bench's (the embedded server among them); so are a shared
  // server's backends of the bench's databases (`postgres: user database host state`).
  const ours = (pid: string): boolean => {
    for (let p = pid, hops = 0; p !== '0' && hops < 20; hops++) {
      if (Number(p) === process.pid) return true;
      const s = procs.get(p);
      if (!s) return false;
      p = String(s.ppid);
    }
    return false;
  };
  const processes = new Map<string, number>();
  const others = new Map<string, number>();
  for (const [pid, s] of procs) {
    const servesBench = s.comm === 'postgres' && (databasePrefix === undefined || (cmdlineOf(pid) ?? '').includes(` ${databasePrefix}`));
    if (!ours(pid) && !servesBench) {
      others.set(`${pid} ${s.comm}`, s.micros);
      continue;
    }
    const name = nameOf(pid, s.comm, generatorPid) ?? s.comm;
    processes.set(name, (processes.get(name) ?? 0) + s.micros);
  }
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = cpu[3]! + cpu[4]!;
  return { at: performance.now(), processes, others, machineBusy: total - idle, machineTotal: total };
}

export function cpuUse(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const wallMicros = (b.at - a.at) * 1000;
  const processes: Record<string, number> = {};
  let ours = 0;
  for (const [name, micros] of b.processes) {
    const used = Math.max(0, micros - (a.processes.get(name) ?? 0));
    ours += used;
    processes[name] = wallMicros > 0 ? (used / wallMicros) * 100 : NaN;
  }
  const busyTicks = b.machineBusy - a.machineBusy;
  const totalTicks = b.machineTotal - a.machineTotal;
  const busyMicros = (busyTicks * 1_000_000) / CLK_TCK;
  let pressure = 'n/a';
  try {
    pressure = /some avg10=([\d.]+)/.exec(fs.readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? 'n/a';
  } catch {
    // not reported by this kernel
  }
  // A process that started within the window counts from its start; one that ended is lost.
  const byComm = new Map<string, number>();
  for (const [key, micros] of b.others) {
    const comm = key.slice(key.indexOf(' ') + 1);
    byComm.set(comm, (byComm.get(comm) ?? 0) + micros - (a.others.get(key) ?? 0));
  }
  const topOthers = [...byComm]
    .map(([comm, micros]): [string, number] => [comm, wallMicros > 0 ? (micros / wallMicros) * 100 : NaN])
    .sort((x, y) => y[1] - x[1])
    .slice(0, 3);
  return {
    processes,
    topOthers,
    machineBusyPercent: totalTicks > 0 ? (busyTicks / totalTicks) * 100 : NaN,
    othersPercent: wallMicros > 0 ? Math.max(0, ((busyMicros - ours) / wallMicros) * 100) : NaN,
    pressure,
  };
}
