// The top self-time entries of a V8 `.cpuprofile` (what `BENCH_CPU_PROF=<dir> npm run bench:proxy`
// writes): `node strangler-proxy/bench/profile-top.ts FILE [N]`. Self time by function and place,
// as a share of the sampled time with the idle and program ticks left out, and summed per package
// (node internals, each dependency, the proxy's own files), since a cost spread over many small
// functions of one library shows only in its sum.
//
// `profile-top.ts FILE N FLOOR`: FILE against FLOOR (a bare pipe proxy's profile under the same
// load), each function's self time in units of that profile's own socket writes (writev and
// writeLatin1String: the send syscalls, the same per request for any HTTP/1.1 proxy of one
// answer), and the functions FILE spends the most on beyond FLOOR. Shares of a profile move when
// the machine is loaded; time per unit of the same syscalls moves far less, so two runs on a noisy
// machine can still be compared.
import fs from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface SelfTimes {
  byFrame: Map<string, number>;
  byPackage: Map<string, number>;
  busy: number;
}

const IDLE = new Set(['(idle)', '(program)', '(root)']);
const WRITES = new Set(['writev  (native)', 'writeLatin1String  (native)']);

function selfTimes(file: string): SelfTimes {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
  const hits = new Map<number, number>();
  for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
  const t: SelfTimes = { byFrame: new Map(), byPackage: new Map(), busy: 0 };
  for (const node of profile.nodes) {
    const h = hits.get(node.id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (!h || IDLE.has(functionName)) continue;
    t.busy += h;
    const where = url.replace(/^file:\/\/.*?\/(node_modules|strangler-proxy|service-kit)\//, '$1/');
    const key = `${functionName || '(anonymous)'}  ${where || '(native)'}${url ? `:${lineNumber + 1}` : ''}`;
    t.byFrame.set(key, (t.byFrame.get(key) ?? 0) + h);
    const pkg =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ??
      (/(strangler-proxy|service-kit)\//.test(url) ? /(strangler-proxy|service-kit)\//.exec(url)![1] : undefined) ??
      (url.startsWith('node:') ? 'node internals' : functionName === '(garbage collector)' ? '(garbage collector)' : '(native)');
    t.byPackage.set(pkg, (t.byPackage.get(pkg) ?? 0) + h);
  }
  return t;
}

const [file, n, floorFile] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-top.ts FILE.cpuprofile [N] [FLOOR.cpuprofile]');
const top = Number(n ?? 15);
const t = selfTimes(file);

if (!floorFile) {
  const pct = (h: number): string => `${((h * 100) / t.busy).toFixed(1).padStart(5)} %`;
  console.log(`${file}: ${t.busy} busy samples`);
  for (const [key, h] of [...t.byFrame].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(h)}  ${key}`);
  console.log('by package:');
  for (const [key, h] of [...t.byPackage].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${pct(h)}  ${key}`);
} else {
  const f = selfTimes(floorFile);
  // The two write functions as one row: how a proxy splits its sends between them is not a cost.
  const WRITES_ROW = '(socket writes: writev, writeLatin1String)';
  const frames = (s: SelfTimes): Map<string, number> => {
    const out = new Map<string, number>();
    for (const [key, h] of s.byFrame) {
      const k = WRITES.has(key) ? WRITES_ROW : key;
      out.set(k, (out.get(k) ?? 0) + h);
    }
    return out;
  };
  const [ft, ff] = [frames(t), frames(f)];
  // One unit: a hundredth of the profile's own socket-write time.
  const [u, uf] = [(ft.get(WRITES_ROW) ?? 0) / 100, (ff.get(WRITES_ROW) ?? 0) / 100];
  if (!u || !uf) throw new Error('a profile without socket writes: was it taken under load?');
  const rows = [...new Set([...ft.keys(), ...ff.keys()])].map((key) => {
    const [a, b] = [(ft.get(key) ?? 0) / u, (ff.get(key) ?? 0) / uf];
    return { key, a, b, extra: a - b };
  });
  const [total, floor] = [t.busy / u, f.busy / uf];
  console.log(
    `per 100 units of socket writes: ${file} ${total.toFixed(0)}, floor ${floor.toFixed(0)}, extra ${(total - floor).toFixed(0)}`,
  );
  console.log(' extra   this  floor');
  for (const r of rows.sort((x, y) => y.extra - x.extra).slice(0, top))
    console.log(`${r.extra.toFixed(1).padStart(6)} ${r.a.toFixed(1).padStart(6)} ${r.b.toFixed(1).padStart(6)}  ${r.key}`);
}
