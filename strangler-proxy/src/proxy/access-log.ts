import { pino, type Logger } from 'pino';

/**
 * The access log line of one forwarded request: fixed fields of the proxy's own making, none a
 * secret's name (a test holds them to the secret list) — the path is the normalised path without
 * its query, the request id one the proxy made or checked (`[A-Za-z0-9._:-]`, 1–128).
 */
export interface AccessLine {
  requestId: string;
  method: string;
  path: string;
  status: number;
  route: string;
  mode: string;
  target: string;
  fallback: boolean;
  ms: number;
}

/** Every field name of AccessLine, for the test that none is a secret's name. */
export const ACCESS_FIELDS: readonly (keyof AccessLine)[] = [
  'requestId',
  'method',
  'path',
  'status',
  'route',
  'mode',
  'target',
  'fallback',
  'ms',
];

/**
 * The access log as a function of AccessLine alone, or undefined below info. Its line is the one
 * `log.info(line, 'request')` would write — level, time, the logger's bindings, the fields, msg —
 * put together here and handed to the logger's own destination, so it keeps its order among the
 * other lines. Not through `log.info`: pino walks every field of every line to serialise it
 * (and its redaction, a wildcard path, visits each one again), 3–4 % of the proxy's CPU per
 * request; an AccessLine is a flat object of fixed fields of the proxy's own making, none a
 * secret's name (a test holds them to the secret list), which one JSON.stringify writes. Written
 * through pino's integration symbols; a test holds the line to what pino itself writes.
 */
export function accessLog(log: Logger): ((line: AccessLine) => void) | undefined {
  if (!log.isLevelEnabled('info')) return undefined;
  const state = log as unknown as Record<symbol, unknown>;
  const { streamSym, lsCacheSym, timeSym, chindingsSym, messageKeySym } = pino.symbols;
  const stream = state[streamSym] as { write(line: string): unknown };
  // `{"level":30`, `,"time":…` and the bindings (`,"service":…`), as pino makes them.
  const level = (state[lsCacheSym] as Record<number, string>)[log.levels.values.info!]!;
  const time = (state[timeSym] as () => string).bind(log);
  const bindings = state[chindingsSym] as string;
  const tail = `,${JSON.stringify(state[messageKeySym])}:"request"}\n`;
  return (line) => {
    const fields = JSON.stringify(line);
    stream.write(`${level}${time()}${bindings},${fields.slice(1, -1)}${tail}`);
  };
}
