// The benchmarks' upstream: one fixed JSON body (size from argv[2], default 1 KiB), keep-alive, its
// own process. argv[3]: `delay=MS` answers after MS ms; `reset` closes every connection unanswered.
import http from 'node:http';

const size = Number(process.argv[2] ?? 1024);
const mode = process.argv[3] ?? '';
const delayMs = /^delay=(\d+)$/.exec(mode)?.[1];
const item = { id: 1, title: 'Piura criollo fine flavour beans', originCountry: 'Peru', pricePerKgCents: 1450, notes: '' };
const filler = size - Buffer.byteLength(JSON.stringify(item));
const body = Buffer.from(JSON.stringify({ ...item, notes: 'x'.repeat(Math.max(0, filler)) }));
const server = http.createServer((req, res) => {
  req.resume();
  if (mode === 'reset') return void req.socket.destroy();
  const send = (): void => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  };
  if (delayMs) setTimeout(send, Number(delayMs));
  else send();
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(typeof address === 'object' && address ? address.port : 0);
});
