// The benchmark's upstream: one fixed JSON body (size from argv, default 1 KiB), keep-alive, its own process.
import http from 'node:http';

const size = Number(process.argv[2] ?? 1024);
const item = { id: 1, title: 'Piura criollo fine flavour beans', originCountry: 'Peru', pricePerKgCents: 1450, notes: '' };
const filler = size - Buffer.byteLength(JSON.stringify(item));
const body = Buffer.from(JSON.stringify({ ...item, notes: 'x'.repeat(Math.max(0, filler)) }));
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(typeof address === 'object' && address ? address.port : 0);
});
