// A fixed-rate load generator for `npm run bench:proxy`, in its own process: `rate` requests a
// second to each of the URLs given (comma-separated) for `seconds`, over at most `connections`
// keep-alive connections each, after one second at the same rate that is not counted (connections
// opened, code compiled: the generator's own start-up is no front's latency). Given two URLs, their
// requests alternate, due at the same moments, so a stall of the machine (a host that takes a core
// away for a few milliseconds) falls on both alike and the difference of their figures is the
// front's own. Each request is timed from when it was handed to the connection pool, so time
// queued behind a stalled front counts, to the microsecond — autocannon's histograms count whole
// milliseconds, too coarse for a 1 ms budget. Prints one JSON line: a result per URL, in order.
import http from 'node:http';

const [urlsArg, rateArg, secondsArg, connectionsArg] = process.argv.slice(2);
const rate = Number(rateArg ?? 1500);
const seconds = Number(secondsArg ?? 8);
const targets = urlsArg!.split(',').map((u) => ({
  url: new URL(u),
  agent: new http.Agent({ keepAlive: true, maxSockets: Number(connectionsArg ?? 16) }),
  latencies: [] as number[],
  errors: 0,
}));
let due = 0;
const warmup = rate;
const total = warmup + rate * seconds;
const t0 = performance.now();

function send(target: (typeof targets)[number], counted: boolean): void {
  const sentAt = performance.now();
  const { url, agent } = target;
  const req = http.get({ host: url.hostname, port: url.port, path: url.pathname, agent }, (res) => {
    res.resume();
    res.on('end', () => {
      if (counted && res.statusCode === 200) target.latencies.push(performance.now() - sentAt);
      else if (counted) target.errors++;
      maybeDone();
    });
  });
  req.on('error', () => {
    if (counted) target.errors++;
    maybeDone();
  });
}

let finished = 0;
function maybeDone(): void {
  if (++finished < total * targets.length) return;
  const results = targets.map(({ latencies, errors, agent }) => {
    agent.destroy();
    latencies.sort((a, b) => a - b);
    const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
    return { requests: latencies.length, errors, sent: total, p50: at(0.5), p99: at(0.99), max: at(1) };
  });
  console.log(JSON.stringify(results));
}

const tick = setInterval(() => {
  const now = performance.now();
  const shouldHave = Math.min(total, Math.floor(((now - t0) / 1000) * rate));
  while (due < shouldHave) {
    const counted = ++due > warmup;
    // Which goes first alternates, so neither is always the one sent behind the other.
    for (let i = 0; i < targets.length; i++) send(targets[(i + due) % targets.length]!, counted);
  }
  if (due >= total) clearInterval(tick);
}, 1);
