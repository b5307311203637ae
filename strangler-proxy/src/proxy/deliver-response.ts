import type { ServerResponse } from 'node:http';
import type { UpstreamResponse } from './upstream-attempt.ts';
import { responseHeaders } from './upstream-headers.ts';

/**
 * Sends the upstream's answer to the client, minus hop-by-hop headers. With `tee`, the body's
 * chunks as they came (up to `teeLimit` bytes in all; undefined past it) and its size are handed
 * over once it has all been sent; the chunks are the tee's to copy then, not to keep.
 */
export function deliverResponse(
  res: ServerResponse,
  response: UpstreamResponse,
  opts: {
    requestId: string;
    setUid: string | undefined;
    tee?: ((chunks: readonly Buffer[] | undefined, size: number) => void) | undefined;
    teeLimit: number;
  },
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
  res.on('finish', () => tee(size <= teeLimit ? chunks : undefined, size));
  response.deliverTo(res, (c) => {
    size += c.length;
    if (size <= teeLimit) chunks.push(c);
  });
}
