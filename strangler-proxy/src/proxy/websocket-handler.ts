import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { ProxyServer } from 'httpxy';
import { PROXY_ERRORS, type ProxyErrorCode } from '../errors.ts';
import { normalizePath } from '../routing/normalize-path.ts';
import { harden } from './hardening.ts';
import { ADMIN_PREFIX, type HandlerDeps } from './request-handler.ts';
import { requestIdOf, upstreamHeaders } from './upstream-headers.ts';
import { parseCookieHeader, userKeyOf } from './user-key.ts';

/** Answers an upgrade request that cannot proceed, on the raw socket, and closes it. */
function refuse(socket: Duplex, code: ProxyErrorCode): void {
  const { status, message } = PROXY_ERRORS[code];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(`HTTP/1.1 ${status} ${code}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/**
 * WebSocket upgrades: the same hardening and routing as any request, then the tunnel through
 * httpxy. The tunnel is bound to its upstream when it opens, so a reload never cuts it; an open
 * breaker sends new tunnels to the default upstream. Open tunnels are tracked for shutdown.
 */
export function createUpgradeHandler(deps: HandlerDeps, tunnels: Set<Duplex>): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
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
    if (deps.draining()) return refuse(socket, 'shutting_down');
    const refused = harden(req, deps.config);
    if (refused) return refuse(socket, refused.code);
    const norm = normalizePath(req.url!);
    if (!norm.ok) return refuse(socket, 'invalid_path');
    if (norm.segments[0]?.toLowerCase() === ADMIN_PREFIX) return refuse(socket, 'not_found');
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return refuse(socket, 'bad_request');

    const table = deps.store.current;
    const cookies = parseCookieHeader(req.headers.cookie);
    const decision = table.decide({ method: req.method!, segments: norm.segments, headers: req.headers, cookies, userKey: userKeyOf(cookies, deps.config.sessionCookie).key });
    let upstream = deps.upstreams.get(decision.target);
    if (upstream.breaker.state === 'open') upstream = deps.upstreams.get(table.defaultUpstream);

    req.headers = upstreamHeaders(req, { requestId: requestIdOf(req), bodyLength: 0, trustedProxyHops: deps.config.trustedProxyHops, upgrade: true }) as IncomingMessage['headers'];
    req.url = norm.path + norm.query;
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
    proxy.ws(req, socket as Socket, { target: upstream.url }, head).catch(() => socket.destroy());
  };
}
