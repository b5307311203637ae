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
