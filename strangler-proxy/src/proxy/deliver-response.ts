import type { ServerResponse } from 'node:http';
import type { UpstreamResponse } from './upstream-attempt.ts';
import { responseHeaders } from './upstream-headers.ts';

/**
 * Sends the upstream's answer to the client, minus hop-by-hop headers. With `tee`, a copy of the
 * body (up to `teeLimit` bytes; undefined past it) is handed over once it has all been sent.
 */
export function deliverResponse(
  res: ServerResponse,
  response: UpstreamResponse,
  opts: { requestId: string; setUid: string | undefined; tee?: ((body: Buffer | undefined) => void) | undefined; teeLimit: number },
): void {
  // One flat [name, value, …] list straight to writeHead: duplicates (set-cookie) stay separate,
  // and no per-header setHeader bookkeeping on the hot path.
  const headers = responseHeaders(response.headers);
  if (opts.setUid) headers.push('set-cookie', opts.setUid);
  headers.push('x-request-id', opts.requestId);
  res.writeHead(response.status, response.statusMessage, headers);
  if (!opts.tee) return response.deliverTo(res);
  const { tee, teeLimit } = opts;
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('finish', () => tee(size <= teeLimit ? ownBuffer(chunks, size) : undefined));
  response.deliverTo(res, (c) => {
    size += c.length;
    if (size <= teeLimit) chunks.push(c);
  });
}

/** The chunks in one buffer with memory of its own (never a slice of Node's pool), so it can be moved to a worker rather than copied. */
function ownBuffer(chunks: readonly Buffer[], size: number): Buffer {
  const out = Buffer.allocUnsafeSlow(size);
  let at = 0;
  for (const c of chunks) at += c.copy(out, at);
  return out;
}
