// The other floor of `npm run bench:proxy`: the same bare pipe as pipe-proxy.ts, its upstream side
// on undici's Pool.dispatch (what the strangler proxy forwards with) instead of node:http's client —
// so the output shows what the client library costs, apart from everything the proxy does.
// argv[2]: the upstream's URL; argv[3]: the port (else any free one). Prints its port.
import http from 'node:http';
import { Pool, type Dispatcher } from 'undici';

const upstream = new URL(process.argv[2]!);
const pool = new Pool(upstream.origin, { connections: 256 });
const HOP = new Set(['connection', 'keep-alive', 'host', 'transfer-encoding']);

const server = http.createServer((req, res) => {
  const headers: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    if (!HOP.has(name)) headers.push(name, req.rawHeaders[i + 1]!);
  }
  let controller: Dispatcher.DispatchController;
  pool.dispatch(
    { method: req.method as Dispatcher.HttpMethod, path: req.url!, headers },
    {
      onRequestStart(c) {
        controller = c;
      },
      onResponseStart(c, status) {
        const raw = (c.rawHeaders ?? []) as Buffer[];
        const out: string[] = [];
        for (let i = 0; i < raw.length; i += 2) {
          const name = raw[i]!.toString('latin1');
          if (!HOP.has(name.toLowerCase())) out.push(name, raw[i + 1]!.toString('latin1'));
        }
        res.writeHead(status, out);
      },
      onResponseData(c, chunk) {
        if (!res.write(chunk)) {
          c.pause();
          res.once('drain', () => controller.resume());
        }
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError() {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      },
    },
  );
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(typeof address === 'object' && address ? address.port : 0);
});
// Exit through process.exit, so a `--cpu-prof` run writes its profile.
process.once('SIGTERM', () => process.exit(0));
