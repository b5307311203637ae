// A worker thread comparing large answers, so a 1 MB JSON diff never stalls the proxy's event loop.
import { parentPort } from 'node:worker_threads';
import { compareResponses, compileRules, type CompareRules, type CompareRulesSpec } from './compare-responses.ts';

interface Job {
  id: number;
  a: { status: number; headers: Record<string, string | undefined>; body: Uint8Array };
  b: { status: number; headers: Record<string, string | undefined>; body: Uint8Array };
  spec: CompareRulesSpec;
}

const rules = new Map<string, CompareRules>();
const buffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

parentPort!.on('message', (job: Job) => {
  const key = JSON.stringify(job.spec);
  let r = rules.get(key);
  if (!r) rules.set(key, (r = compileRules(job.spec)));
  const differences = compareResponses({ ...job.a, body: buffer(job.a.body) }, { ...job.b, body: buffer(job.b.body) }, r);
  parentPort!.postMessage({ id: job.id, differences });
});
