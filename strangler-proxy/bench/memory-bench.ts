// `npm run bench:memory`: what a crowd of slow uploads costs the proxy. 200 connections each
// declare a body just under the body limit, send all of it but the last byte, and wait; the proxy's
// RSS is read from /proc before and while they wait, and their answers counted. Three settings side
// by side in one run: one body limit per connection with no total (how the proxy ran before it had
// a budget), the same 1 MiB limit with the default budget, and the defaults. Loopback only, bounded.
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { firstLine, here, root, rssMiB, start, stopAll, waitFor } from './bench-tools.ts';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 200);
const MiB = 1024 * 1024;

const SETTINGS: { name: string; bodyLimit: number; env: Record<string, string> }[] = [
  {
    name: '1 MiB limit, no total budget',
    bodyLimit: MiB,
    env: { MAX_BODY_BYTES: String(MiB), MAX_BUFFERED_BYTES: String(16 * 1024 * MiB), MAX_CONNECTIONS: '1000000' },
  },
  { name: '1 MiB limit, default budget (64 MiB)', bodyLimit: MiB, env: { MAX_BODY_BYTES: String(MiB) } },
  { name: 'defaults (100 KiB limit, 64 MiB budget)', bodyLimit: 100 * 1024, env: {} },
];

/** A client that sends all but the last byte of a body just under `limit`, then waits. */
function slowUpload(port: number, limit: number, answers: Map<string, number>): net.Socket {
  const length = limit - 1;
  const socket = net.connect(port, '127.0.0.1');
  let seen = false;
  socket.on('data', (d) => {
    if (seen) return;
    seen = true;
    const status = /^HTTP\/1\.1 (\d{3})/.exec(d.toString('latin1'))?.[1] ?? '?';
    answers.set(status, (answers.get(status) ?? 0) + 1);
  });
  socket.on('error', () => {});
  socket.on('connect', () => {
    socket.write(`POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`);
    socket.write(Buffer.alloc(length - 1, 120));
  });
  return socket;
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strangler-memory-bench-'));
  const routes = path.join(tmp, 'routes.yaml');
  const upstream = `http://127.0.0.1:${await firstLine(start(process.execPath, [path.join(here, 'upstream-server.ts'), '256']))}`;
  fs.writeFileSync(routes, `version: 1\nupstreams:\n  monolith: { url: "${upstream}" }\nroutes: []\ndefault: monolith\n`);
  console.log(`slow uploads; ${CLIENTS} clients, each a body just under the limit, all but its last byte sent; Node ${process.version}`);
  console.log('settings                                   | RSS before | RSS while waiting | added   | answers while waiting');
  for (const [i, s] of SETTINGS.entries()) {
    const port = 18280 + i * 2;
    const proxy = start(process.execPath, [path.join(root, 'strangler-proxy/src/main.ts')], {
      ROUTES_FILE: routes,
      PROXY_PORT: String(port),
      ADMIN_PORT: String(port + 1),
      LOG_LEVEL: 'warn',
      REQUEST_TIMEOUT_MS: '60000',
      ...s.env,
    });
    await waitFor(`http://127.0.0.1:${port}/warm`);
    await new Promise((r) => setTimeout(r, 500));
    const before = rssMiB(proxy.pid!);
    const answers = new Map<string, number>();
    const sockets = Array.from({ length: CLIENTS }, () => slowUpload(port, s.bodyLimit, answers));
    await new Promise((r) => setTimeout(r, 3000));
    const during = rssMiB(proxy.pid!);
    for (const socket of sockets) socket.destroy();
    const told = [...answers].map(([status, n]) => `${n}× ${status}`).join(', ') || 'none (all still being read)';
    console.log(
      `${s.name.padEnd(42)} | ${before.toFixed(0).padStart(6)} MiB | ${during.toFixed(0).padStart(13)} MiB | ${(during - before).toFixed(0).padStart(3)} MiB | ${told}`,
    );
    proxy.kill('SIGTERM');
    await new Promise((r) => proxy.once('exit', r));
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

try {
  await main();
} finally {
  stopAll();
}
