import type { IncomingMessage, ServerResponse } from 'node:http';
import { responseHeaders } from './upstream-headers.ts';

/**
 * Streams the upstream's answer to the client, minus hop-by-hop headers. With `tee`, a copy of the
 * body (up to `teeLimit` bytes; undefined past it) is handed over once it has all been sent.
 * Returns what to let go when the request ends: an answer the client left before the end of.
 */
export function deliverResponse(
  res: ServerResponse,
  response: IncomingMessage,
  opts: { requestId: string; setUid: string | undefined; tee?: ((body: Buffer | undefined) => void) | undefined; teeLimit: number },
): () => void {
  // One flat [name, value, …] list straight to writeHead: duplicates (set-cookie) stay separate,
  // and no per-header setHeader bookkeeping on the hot path.
  const headers = responseHeaders(response.rawHeaders);
  if (opts.setUid) headers.push('set-cookie', opts.setUid);
  headers.push('x-request-id', opts.requestId);
  res.writeHead(response.statusCode ?? 502, response.statusMessage ?? '', headers);
  // An answer cut short upstream is cut short to the client too, never passed off as complete.
  response.on('error', () => res.destroy());
  response.once('close', () => {
    if (!response.complete && !res.destroyed) res.destroy();
  });
  if (opts.tee) {
    const tee = opts.tee;
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= opts.teeLimit) chunks.push(c);
    });
    res.once('finish', () => tee(size <= opts.teeLimit ? ownBuffer(chunks, size) : undefined));
  }
  response.pipe(res);
  return () => {
    if (!response.complete) response.destroy();
  };
}

/** The chunks in one buffer with memory of its own (never a slice of Node's pool), so it can be moved to a worker rather than copied. */
function ownBuffer(chunks: readonly Buffer[], size: number): Buffer {
  const out = Buffer.allocUnsafeSlow(size);
  let at = 0;
  for (const c of chunks) at += c.copy(out, at);
  return out;
}
