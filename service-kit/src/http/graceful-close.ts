import type { Server } from 'node:http';

/**
 * Stops accepting connections, closes idle keep-alive sockets at once, lets requests in flight
 * finish, and cuts whatever is still open after `graceMs`.
 */
export async function closeGracefully(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  // A socket that finishes its request while closing becomes idle: close those too as they appear.
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  try {
    await closed;
  } finally {
    clearTimeout(timer);
    clearInterval(sweep);
  }
}
