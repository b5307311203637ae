// The top self-time entries of a V8 `.cpuprofile` (what `BENCH_CPU_PROF=<dir> npm run bench:proxy`
// writes): `node strangler-proxy/bench/profile-top.ts FILE [N]`. Self time by function and place,
// as a share of the sampled time with the idle and program ticks left out, and summed per package
// (node internals, each dependency, the proxy's own files), since a cost spread over many small
// functions of one library shows only in its sum.
import fs from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
const [file, n] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-top.ts FILE.cpuprofile [N]');
const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
const hits = new Map<number, number>();
for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1);

const IDLE = new Set(['(idle)', '(program)', '(root)']);
const byFrame = new Map<string, number>();
const byPackage = new Map<string, number>();
let busy = 0;
for (const node of profile.nodes) {
  const h = hits.get(node.id) ?? 0;
  const { functionName, url, lineNumber } = node.callFrame;
  if (!h || IDLE.has(functionName)) continue;
  busy += h;
  const where = url.replace(/^file:\/\/.*?\/(node_modules|strangler-proxy|service-kit)\//, '$1/');
  const key = `${functionName || '(anonymous)'}  ${where || '(native)'}${url ? `:${lineNumber + 1}` : ''}`;
  byFrame.set(key, (byFrame.get(key) ?? 0) + h);
  const pkg =
    /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ??
    (/(strangler-proxy|service-kit)\//.test(url) ? /(strangler-proxy|service-kit)\//.exec(url)![1] : undefined) ??
    (url.startsWith('node:') ? 'node internals' : functionName === '(garbage collector)' ? '(garbage collector)' : '(native)');
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + h);
}
const pct = (h: number): string => `${((h * 100) / busy).toFixed(1).padStart(5)} %`;
console.log(`${file}: ${busy} busy samples`);
for (const [key, h] of [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, Number(n ?? 15))) console.log(`${pct(h)}  ${key}`);
console.log('by package:');
for (const [key, h] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${pct(h)}  ${key}`);
