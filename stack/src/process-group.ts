import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';

export interface ProcessSpec {
  /** Short name, used as the log prefix. */
  name: string;
  /** Node script to run, absolute path; it runs on the same Node binary as the runner. */
  script: string;
  args?: string[];
  env: Record<string, string>;
  /** Where it serves, when it serves HTTP (listed by `list()`). */
  url?: string;
  /** URL polled until it answers 200; the next process starts only then. */
  readyUrl: string;
  /** How long to wait for readiness, in ms (default 60 000). */
  readyTimeoutMs?: number;
}

interface Running {
  name: string;
  spec: ProcessSpec;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Its exit on its own stops the group; a candidate's (a green deployment under test) only is logged. */
  critical: boolean;
  /** Being stopped on purpose (`retire`): its exit is expected. */
  retiring: boolean;
}

/**
 * Runs processes in order, each once the previous one is ready, and stops them in reverse order.
 * If a critical one exits on its own, the group stops the rest and reports it through `onUnexpectedExit`.
 * One process can be replaced while the rest run (blue/green): a candidate started beside it, then
 * promoted in its place, the old one stopped on purpose.
 */
export class ProcessGroup {
  #running: Running[] = [];
  #stopping = false;
  readonly #log: (line: string) => void;
  readonly #onUnexpectedExit: (name: string, code: number | null) => void;

  constructor(opts: { log: (line: string) => void; onUnexpectedExit: (name: string, code: number | null) => void }) {
    this.#log = opts.log;
    this.#onUnexpectedExit = opts.onUnexpectedExit;
  }

  async start(spec: ProcessSpec, opts: { critical?: boolean } = {}): Promise<void> {
    if (this.#stopping) throw new Error(`the group is stopping: ${spec.name} not started`);
    const child = spawn(process.execPath, [spec.script, ...(spec.args ?? [])], {
      env: { ...spec.env, PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const running: Running = { name: spec.name, spec, child, exited, critical: opts.critical ?? true, retiring: false };
    // Its last lines, for the error when it never gets ready.
    const tail: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on('line', (l) => {
        this.#log(`[${running.name}] ${l}`);
        if (tail.push(l) > 5) tail.shift();
      });
    }
    this.#running.push(running);
    void exited.then((code) => {
      if (this.#stopping || running.retiring) return;
      this.#running = this.#running.filter((r) => r !== running);
      if (running.critical) this.#onUnexpectedExit(running.name, code);
      else this.#log(`${running.name} exited (code ${code}); the rest go on`);
    });
    try {
      await waitReady(spec, exited);
    } catch (err) {
      if (!running.critical && this.#running.includes(running)) await this.retire(running.name);
      // Lines a reader of the output may not have been shown (a log level, a control client).
      if (tail.length) (err as Error).message += `; its last output: ${tail.join(' | ')}`;
      throw err;
    }
  }

  /** The processes running now, in start order. */
  list(): { name: string; spec: ProcessSpec; pid: number | undefined; critical: boolean }[] {
    return this.#running.map((r) => ({ name: r.name, spec: r.spec, pid: r.child.pid, critical: r.critical }));
  }

  /** Stops one process on purpose (SIGTERM: it drains; SIGKILL after `graceMs`); the rest go on. */
  async retire(name: string, graceMs = 10_000): Promise<void> {
    const r = this.#running.find((x) => x.name === name);
    if (!r) throw new Error(`no process named ${name} is running`);
    r.retiring = true;
    this.#running = this.#running.filter((x) => x !== r);
    await terminate(r, graceMs);
  }

  /** The candidate takes the place (and name) of the process it replaces, which is stopped; from now on its exit stops the group. */
  async promote(candidate: string, replaced: string, graceMs = 10_000): Promise<void> {
    const c = this.#running.find((x) => x.name === candidate);
    if (!c) throw new Error(`no process named ${candidate} is running`);
    await this.retire(replaced, graceMs);
    c.name = replaced;
    c.spec = { ...c.spec, name: replaced };
    c.critical = true;
  }

  /** SIGTERM to each process, newest first; SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopping = true;
    for (const r of this.#running.reverse()) await terminate(r, graceMs);
    this.#running = [];
  }
}

async function terminate(r: Running, graceMs: number): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  r.child.kill('SIGTERM');
  const timer = setTimeout(() => r.child.kill('SIGKILL'), graceMs);
  await r.exited;
  clearTimeout(timer);
}

async function waitReady(spec: ProcessSpec, exited: Promise<number | null>): Promise<void> {
  const deadline = Date.now() + (spec.readyTimeoutMs ?? 60_000);
  let gone: number | null | undefined;
  void exited.then((code) => (gone = code));
  while (Date.now() < deadline) {
    if (gone !== undefined) throw new Error(`${spec.name} exited with code ${gone} before it was ready`);
    try {
      const res = await fetch(spec.readyUrl, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${spec.name} was not ready at ${spec.readyUrl} within ${spec.readyTimeoutMs ?? 60_000} ms`);
}

/** Whether a process with this pid exists (signal 0 checks, sends nothing). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
