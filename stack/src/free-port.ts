import net from 'node:net';

/** A TCP port free on 127.0.0.1 right now (the OS picks it); for servers that cannot listen on 0 themselves. */
export async function freePort(): Promise<number> {
  const { port, release } = await reservePort();
  await release();
  return port;
}

/**
 * A port held until `release()`: while held, the OS hands it to no other listener on port 0. For a
 * server whose address others must know before it starts (the proxy the apps call back through):
 * release just before it listens, so the window in which another listener can take it is a tick,
 * not the whole start-up.
 */
export async function reservePort(): Promise<{ port: number; release(): Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { port, release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The ports of a stack: each app's, the replicator's, and the proxy's two. */
export interface StackPorts {
  monolith: number;
  auth: number;
  listings: number;
  orders: number;
  sync: number;
  proxy: number;
  admin: number;
}

const PORT_VARIABLES = {
  monolith: 'MONOLITH_PORT',
  auth: 'AUTH_PORT',
  listings: 'LISTINGS_PORT',
  orders: 'ORDERS_PORT',
  sync: 'SYNC_PORT',
  proxy: 'PROXY_PORT',
  admin: 'ADMIN_PORT',
} as const satisfies Record<keyof StackPorts, string>;

/** A free port for every process of a stack, and the variables that give them to it (`MONOLITH_PORT`, …): a stack beside any other. */
export async function freeStackPorts(): Promise<{ ports: StackPorts; env: Record<string, string> }> {
  const names = Object.keys(PORT_VARIABLES) as (keyof StackPorts)[];
  const found = await Promise.all(names.map(() => freePort()));
  const ports = Object.fromEntries(names.map((n, i) => [n, found[i]!])) as unknown as StackPorts;
  return { ports, env: Object.fromEntries(names.map((n) => [PORT_VARIABLES[n], String(ports[n])])) };
}
