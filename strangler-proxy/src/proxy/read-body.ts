import type { IncomingMessage } from 'node:http';

export class BodyError extends Error {
  override readonly name = 'BodyError';
  readonly reason: 'too_large' | 'timeout' | 'aborted';
  constructor(reason: BodyError['reason']) {
    super(`request body ${reason}`);
    this.reason = reason;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Reads the whole body into memory, up to `maxBytes`: an upstream never sees a partial body, a
 * fallback can send the same bytes again, and a chunked body over the limit is refused as soon as
 * it crosses it (row 27). Rejects on timeout (row 29) and on the client aborting (row 30).
 */
export function readBody(req: IncomingMessage, maxBytes: number, deadline: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if ((declared === undefined || declared === '0') && req.headers['transfer-encoding'] === undefined) {
    return Promise.resolve(EMPTY);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => finish(new BodyError('timeout')), Math.max(0, deadline - Date.now()));
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) return finish(new BodyError('too_large'));
      chunks.push(chunk);
    };
    const onEnd = (): void => finish();
    const onAbort = (): void => finish(new BodyError('aborted'));
    function finish(err?: BodyError): void {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('aborted', onAbort).off('error', onAbort).off('close', onClose);
      if (err) {
        req.pause();
        reject(err);
      } else {
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      }
    }
    const onClose = (): void => {
      if (!req.complete) finish(new BodyError('aborted'));
    };
    req.on('data', onData).on('end', onEnd).on('aborted', onAbort).on('error', onAbort).on('close', onClose);
  });
}
