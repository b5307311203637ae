import net from 'node:net';

/**
 * Sends bytes over a raw TCP socket (no HTTP client to fix them up) and returns everything the
 * server wrote until it closed the connection or `waitMs` passed.
 */
export function rawRequest(
  url: string,
  payload: string | Buffer | (string | Buffer)[],
  opts: { waitMs?: number; gapMs?: number; responses?: number } = {},
): Promise<{ text: string; closed: boolean }> {
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
    socket.on('data', (d) => {
      text += d.toString('latin1');
      // Done early once the expected number of complete responses is in and the server keeps the
      // connection open; a response that closes it is waited for, so `closed` can be checked.
      if (completeResponses(text) >= (opts.responses ?? 1) && !/\r\nconnection: *close\r\n/i.test(text)) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ text, closed: false });
      }
    });
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

/** How many complete responses (head plus Content-Length body) `text` holds. */
function completeResponses(text: string): number {
  let n = 0;
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0 || !rest.startsWith('HTTP/')) return n;
    const head = rest.slice(0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) return n;
    const total = end + 4 + Number(length[1]);
    if (rest.length < total) return n;
    n++;
    rest = rest.slice(total);
  }
}
