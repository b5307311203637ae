import { Worker } from 'node:worker_threads';
import { compareResponses, type ComparableResponse, type CompareRules, type CompareRulesSpec, type FieldDifference } from './compare-responses.ts';

/**
 * Where comparisons run: identical bytes and small bodies inline (a worker round trip costs more
 * than they do), large differing bodies on worker threads, round robin. With 0 workers everything
 * runs inline.
 */
export class ComparePool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, (d: FieldDifference[]) => void>();
  readonly #minBytes: number;
  #next = 0;
  #id = 0;

  constructor(opts: { workers: number; minBytes: number }) {
    this.#minBytes = opts.minBytes;
    for (let i = 0; i < opts.workers; i++) {
      const w = new Worker(new URL('./compare-worker.ts', import.meta.url));
      w.on('message', (m: { id: number; differences: FieldDifference[] }) => {
        this.#pending.get(m.id)?.(m.differences);
        this.#pending.delete(m.id);
      });
      // A worker that dies takes its jobs with it: they are answered inline instead.
      w.on('error', () => this.#workers.splice(this.#workers.indexOf(w), 1));
      w.unref();
      this.#workers.push(w);
    }
  }

  async compare(a: ComparableResponse, b: ComparableResponse, spec: CompareRulesSpec, rules: CompareRules): Promise<{ differences: FieldDifference[]; where: 'inline' | 'worker' }> {
    const large = Math.max(a.body.length, b.body.length) >= this.#minBytes;
    if (!this.#workers.length || !large || a.body.equals(b.body)) return { differences: compareResponses(a, b, rules), where: 'inline' };
    const worker = this.#workers[this.#next++ % this.#workers.length]!;
    const id = ++this.#id;
    const differences = await new Promise<FieldDifference[]>((resolve) => {
      this.#pending.set(id, resolve);
      worker.postMessage({ id, a: { ...a, body: new Uint8Array(a.body) }, b: { ...b, body: new Uint8Array(b.body) }, spec });
    });
    return { differences, where: 'worker' };
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#workers.length = 0;
  }
}
