import { promisify } from 'node:util';
import zlib from 'node:zlib';

const DECODERS: Record<string, (b: Buffer) => Promise<Buffer>> = {
  gzip: promisify(zlib.gunzip),
  'x-gzip': promisify(zlib.gunzip),
  deflate: promisify(zlib.inflate),
  br: promisify(zlib.brotliDecompress),
};

/**
 * The body as sent before its Content-Encoding (gzip, deflate, br; in the order applied), on
 * libuv's thread pool rather than the event loop. Undefined when an encoding is unknown or the data
 * is corrupt: such a body is compared by its bytes.
 */
export async function decodeBody(body: Buffer, contentEncoding: string | string[] | undefined): Promise<Buffer | undefined> {
  const encodings = (Array.isArray(contentEncoding) ? contentEncoding.join(',') : (contentEncoding ?? ''))
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e && e !== 'identity');
  let out = body;
  for (const e of encodings.reverse()) {
    const decode = DECODERS[e];
    if (!decode) return undefined;
    try {
      out = await decode(out);
    } catch {
      return undefined;
    }
  }
  return out;
}
