// The mirror worker thread: sends the copies, compares the answers, builds the redacted examples,
// and reports back in batches; the proxy sends its jobs in batches too (those of one turn of its
// event loop), so shadow traffic costs each side a few messages per turn, not one per mirror.
import { parentPort, workerData } from 'node:worker_threads';
import { MirrorRunner, type MirrorJob, type MirrorResult } from './mirror-runner.ts';
import { pathTemplate } from './path-template.ts';
import { redactionRules } from './redact.ts';

const init = workerData as { maxSockets: number; maxBodyBytes: number; redactKeys: string[]; redactValues: string[] };
const mirrorer = new MirrorRunner({
  maxSockets: init.maxSockets,
  maxBodyBytes: init.maxBodyBytes,
  redaction: redactionRules(init.redactKeys, init.redactValues),
});

let batch: MirrorResult[] = [];
let timer: NodeJS.Timeout | undefined;
const flush = (): void => {
  timer = undefined;
  if (!batch.length) return;
  parentPort!.postMessage(batch);
  batch = [];
};

parentPort!.on('message', (jobs: MirrorJob[]) => {
  for (const job of jobs) handle(job);
});

function handle(job: MirrorJob): void {
  void mirrorer
    .run(job)
    .catch((err: unknown): MirrorResult => ({
      id: job.id,
      route: job.route,
      template: pathTemplate(job.path, job.pattern),
      outcome: 'failed',
      monolith: { status: job.primary.status, ms: job.primary.ms },
      service: { status: null, ms: 0 },
      differences: [{ path: '(comparison failed)', field: '(comparison failed)', kind: 'missing', b: (err as Error).message }],
      stale: false,
      noise: undefined,
      examples: {},
      compareMs: 0,
    }))
    .then((result) => {
      batch.push(result);
      if (batch.length >= 100) flush();
      else timer ??= setTimeout(flush, 10);
    });
}

// Loaded and listening: the proxy waits for this before it mirrors, so no copy's latency includes the start-up.
parentPort!.postMessage('ready');
