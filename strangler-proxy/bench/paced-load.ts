// A fixed-rate load generator for `npm run bench:proxy`, in its own process: `rate` requests a
// second for `seconds` over at most `connections` keep-alive connections, after one second at the
// same rate that is not counted (connections opened, code compiled: the generator's own start-up
// is no front's latency). Each request is timed from when it was handed to the connection pool,
// so time queued behind a stalled front counts, to the microsecond — autocannon's histograms
// count whole milliseconds, too coarse for a 1 ms budget. Prints one JSON line.
import http from 'node:http';

const [url, rateArg, secondsArg, connectionsArg] = process.argv.slice(2);
const target = new URL(url!);
const rate = Number(rateArg ?? 1500);
const seconds = Number(secondsArg ?? 8);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(connectionsArg ?? 16) });
const latencies: number[] = [];
let errors = 0;
let due = 0;
const warmup = rate;
const total = warmup + rate * seconds;
const t0 = performance.now();

function send(counted: boolean): void {
  const sentAt = performance.now();
  const req = http.get({ host: target.hostname, port: target.port, path: target.pathname, agent }, (res) => {
    res.resume();
    res.on('end', () => {
      if (!counted) return maybeDone();
      if (res.statusCode === 200) latencies.push(performance.now() - sentAt);
      else errors++;
      maybeDone();
    });
  });
  req.on('error', () => {
    if (counted) errors++;
    maybeDone();
  });
}

let finished = 0;
function maybeDone(): void {
  if (++finished < total) return;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  console.log(JSON.stringify({ requests: latencies.length, errors, p50: at(0.5), p99: at(0.99), max: at(1) }));
  agent.destroy();
}

const tick = setInterval(() => {
  const now = performance.now();
  const shouldHave = Math.min(total, Math.floor(((now - t0) / 1000) * rate));
  while (due < shouldHave) send(++due > warmup);
  if (due >= total) clearInterval(tick);
}, 1);
