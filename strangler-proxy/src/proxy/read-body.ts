import type { IncomingMessage } from 'node:http';

export class BodyError extends Error {
  override readonly name = 'BodyError';
  readonly reason: 'too_large' | 'over_budget' | 'timeout' | 'aborted';
  constructor(reason: BodyError['reason']) {
    super(`request body ${reason}`);
    this.reason = reason;
  }
}

export const EMPTY_BODY = Buffer.alloc(0);

/** Whether the request declares a body: a Content-Length above 0, or any Transfer-Encoding. */
export function declaresBody(req: IncomingMessage): boolean {
  const declared = req.headers['content-length'];
  return (declared !== undefined && declared !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * Reads the whole body into memory, up to `maxBytes`: an upstream never sees a partial body, a
 * fallback can send the same bytes again, and a chunked body over the limit is refused as soon as
 * it crosses it. Rejects on timeout and on the client aborting. The bytes are asked of `take`
 * before they are read — a declared length at once, a chunked body as it grows — so a request
 * that would take the proxy past its total is refused before it costs memory; what `take` granted
 * is the caller's to give back when the request ends.
 */
export function readBody(
  req: IncomingMessage,
  o: { maxBytes: number; deadline: number; take?: (bytes: number) => boolean },
): Promise<Buffer> {
  if (!declaresBody(req)) return Promise.resolve(EMPTY_BODY);
  const declared = req.headers['content-length'];
  const length = declared === undefined ? undefined : Number(declared);
  if (length !== undefined && o.take && !o.take(length)) return Promise.reject(new BodyError('over_budget'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => finish(new BodyError('timeout')), Math.max(0, o.deadline - Date.now()));
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > o.maxBytes) return finish(new BodyError('too_large'));
      if (length === undefined && o.take && !o.take(chunk.length)) return finish(new BodyError('over_budget'));
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
