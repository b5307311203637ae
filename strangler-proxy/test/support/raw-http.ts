import net from 'node:net';

/**
 * Sends bytes over a raw TCP socket (no HTTP client to fix them up) and returns everything the
 * server wrote until it closed the connection or `waitMs` passed.
 */
export function rawRequest(url: string, payload: string | Buffer | (string | Buffer)[], opts: { waitMs?: number; gapMs?: number } = {}): Promise<{ text: string; closed: boolean }> {
  const { port, hostname } = new URL(url);
  const parts = Array.isArray(payload) ? payload : [payload];
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let text = '';
    let closed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed });
    }, opts.waitMs ?? 1500);
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ text, closed });
    });
    socket.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || (err as NodeJS.ErrnoException).code === 'EPIPE') return;
      clearTimeout(timer);
      reject(err);
    });
    socket.on('connect', async () => {
      for (const part of parts) {
        if (socket.destroyed) break;
        socket.write(part);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
    });
  });
}

/** The status code of the first response in a raw answer. */
export function statusOf(text: string): number | undefined {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return m ? Number(m[1]) : undefined;
}
