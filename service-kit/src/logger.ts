import { pino, type DestinationStream, type Logger } from 'pino';
import { secretLogPaths } from './secret-keys.ts';

/** Header and field paths that carry secrets (the secret key list's, and a few of our own: the proxy's admin token among them); pino replaces their values before anything is written. */
export const REDACT_PATHS = [...secretLogPaths(), '*.passwordHash', 'err.config', '*.adminToken'];

/**
 * Buffered stdout: lines are gathered and written at 32 KiB or every 100 ms, whichever comes first,
 * on libuv's thread pool, instead of one blocking write(2) per line (each write wakes a pool thread:
 * the batch is large so that happens once per ~80 access lines, not per line). What it costs: a line
 * reaches the reader up to 100 ms late; a process killed without running its exit handlers
 * (SIGKILL, an out-of-memory kill) loses up to the last 32 KiB — a normal exit, an uncaught
 * exception and SIGTERM flush first (pino's exit hook); and a reader that stops reading holds at
 * most 16 MiB, past which lines are dropped (said once on stderr) rather than the process stalling
 * or growing. A reader that has gone (EPIPE) loses what is still buffered and the process exits:
 * sonic-boom before 5.0.2 retried that exit flush every 100 ms for ever, and a proxy whose parent
 * had died never ended (the root package.json pins sonic-boom ^5.0.2 under pino for it).
 */
export const BUFFERED_STDOUT = {
  minLength: 32 * 1024,
  maxWrite: 64 * 1024,
  periodicFlushMs: 100,
  maxLength: 16 * 1024 * 1024,
} as const;

function bufferedStdout(): DestinationStream {
  const dest = pino.destination({
    dest: 1,
    sync: false,
    minLength: BUFFERED_STDOUT.minLength,
    maxWrite: BUFFERED_STDOUT.maxWrite,
    maxLength: BUFFERED_STDOUT.maxLength,
    periodicFlush: BUFFERED_STDOUT.periodicFlushMs,
    // Each line as a buffer of its own, the batch a list of them: in its default (string) mode
    // sonic-boom appends a line to one growing string and measures that string's UTF-8 length
    // again for every line — up to 64 KiB flattened and scanned per access line: 4–10 % of the
    // proxy's CPU per request, the more the slower stdout is read. Here a line's length is
    // measured once, as it is copied.
    contentMode: 'buffer',
  });
  // (Typed for strings, it takes buffers in this mode.)
  const writeBuffer = dest.write.bind(dest) as unknown as (data: Buffer) => boolean;
  dest.write = (line: string) => writeBuffer(Buffer.from(line));
  let told = false;
  dest.on('drop', () => {
    if (told) return;
    told = true;
    process.stderr.write(`log lines dropped: stdout has not been read while ${BUFFERED_STDOUT.maxLength} bytes waited\n`);
  });
  return dest;
}

/**
 * The one logger factory of the apps, the proxy and the replicator: pino at `level`, each line
 * tagged with `service`, secrets redacted. `buffered`: stdout through `BUFFERED_STDOUT`, for a
 * process that logs a line per request (the proxy's access log); otherwise each line is written
 * before the call returns.
 */
export function createLogger(service: string, level = 'info', opts: { buffered?: boolean } = {}): Logger {
  const options = { level, base: { service }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return opts.buffered ? pino(options, bufferedStdout()) : pino(options);
}
