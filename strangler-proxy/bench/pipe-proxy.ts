// Node's own floor for `npm run bench:proxy`: the least a node:http proxy can do — every request
// piped to one upstream over keep-alive connections, the answer piped back; no hardening, routing,
// breaker, logging or metrics. argv[2]: the upstream's URL; argv[3]: the port (else any free one). Prints its port.
import http from 'node:http';

const upstream = new URL(process.argv[2]!);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, scheduling: 'lifo' });
const server = http.createServer((req, res) => {
  const out = http.request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  out.on('error', () => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  req.pipe(out);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(typeof address === 'object' && address ? address.port : 0);
});
// Exit through process.exit, so a `--cpu-prof` run writes its profile.
process.once('SIGTERM', () => process.exit(0));
