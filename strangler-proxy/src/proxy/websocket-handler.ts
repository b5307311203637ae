import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { ProxyServer } from 'httpxy';
import { PROXY_ERRORS, type ProxyErrorCode } from '../errors.ts';
import { admitRequest } from './admit-request.ts';
import type { HandlerDeps } from './handler-deps.ts';
import { requestIdOf, upstreamHeaders } from './upstream-headers.ts';

/** Answers an upgrade request that cannot proceed, on the raw socket, and closes it. */
function refuse(socket: Duplex, code: ProxyErrorCode): void {
  const { status, message } = PROXY_ERRORS[code];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${code}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/**
 * WebSocket upgrades: the same admission as any request (hardening, routing, preview), then the tunnel through
 * httpxy. The tunnel is bound to its upstream when it opens, so a reload never cuts it; an open
 * breaker sends new tunnels to the default upstream. Open tunnels are tracked for shutdown.
 */
export function createUpgradeHandler(
  deps: HandlerDeps,
  tunnels: Set<Duplex>,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const proxy = new ProxyServer({ ws: true, xfwd: false, prependPath: false });
  proxy.on('error', (_err, _req, socket) => (socket as Socket | undefined)?.destroy());
  // httpxy pipes the two sockets together, and a pipe passes on 'end' but not an abrupt close:
  // tie their lifetimes, so a client that vanishes never leaves a tunnel open at the upstream.
  proxy.on('proxyReqWs', (proxyReq, _req, clientSocket) => {
    proxyReq.once('upgrade', (_res, upstreamSocket: Socket) => {
      clientSocket.once('close', () => upstreamSocket.destroy());
      upstreamSocket.once('close', () => clientSocket.destroy());
    });
  });

  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const admitted = admitRequest(deps, req);
    if (!admitted.ok) return refuse(socket, admitted.code);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return refuse(socket, 'bad_request');

    const { table, decision } = admitted;
    let upstream = deps.upstreams.get(decision.upstream);
    // A preview goes where the tester asked, open breaker or not.
    if (upstream.breaker.state === 'open' && !admitted.previewing) upstream = deps.upstreams.get(table.defaultUpstream);

    req.headers = upstreamHeaders(req, {
      requestId: requestIdOf(req),
      bodyLength: 0,
      trustedProxyHops: deps.config.trustedProxyHops,
      upgrade: true,
    }) as IncomingMessage['headers'];
    req.url = admitted.target;
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
    proxy.ws(req, socket as Socket, { target: upstream.url }, head).catch(() => socket.destroy());
  };
}
