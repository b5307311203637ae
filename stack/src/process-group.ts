import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';

export interface ProcessSpec {
  /** Short name, used as the log prefix. */
  name: string;
  /** Node script to run, absolute path; it runs on the same Node binary as the runner. */
  script: string;
  args?: string[];
  env: Record<string, string>;
  /** URL polled until it answers 200; the next process starts only then. */
  readyUrl: string;
  /** How long to wait for readiness, in ms (default 60 000). */
  readyTimeoutMs?: number;
}

interface Running {
  spec: ProcessSpec;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/**
 * Runs processes in order, each once the previous one is ready, and stops them in reverse order.
 * If one exits on its own, the group stops the rest and reports it through `onUnexpectedExit`.
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

  async start(spec: ProcessSpec): Promise<void> {
    const child = spawn(process.execPath, [spec.script, ...(spec.args ?? [])], {
      env: { ...spec.env, PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on('line', (l) => this.#log(`[${spec.name}] ${l}`));
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const running = { spec, child, exited };
    this.#running.push(running);
    void exited.then((code) => {
      if (!this.#stopping) this.#onUnexpectedExit(spec.name, code);
    });
    await waitReady(spec, exited);
  }

  /** SIGTERM to each process, newest first; SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopping = true;
    for (const r of this.#running.reverse()) {
      if (r.child.exitCode !== null || r.child.signalCode !== null) continue;
      r.child.kill('SIGTERM');
      const timer = setTimeout(() => r.child.kill('SIGKILL'), graceMs);
      await r.exited;
      clearTimeout(timer);
    }
    this.#running = [];
  }
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
