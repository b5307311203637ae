import type { IncomingMessage } from 'node:http';

/**
 * The header the strangler proxy puts on a mirrored write: run it, answer it, keep nothing. Its
 * value is `1`, or the proxy's signed mark `1.<expires>.<signature>`, which an app passes on as it
 * is to the calls it makes through the proxy for that request, so they stay dry runs too.
 */
export const DRY_RUN_HEADER = 'x-strangler-shadow';

/** The dry-run header's value when this request is a dry run, else undefined. */
export function dryRunMarkOf(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  const v = req.headers[DRY_RUN_HEADER];
  return typeof v === 'string' && (v === '1' || v.startsWith('1.')) ? v : undefined;
}

/** Whether this write must be rolled back after computing its answer. */
export function isDryRun(req: Pick<IncomingMessage, 'headers'>): boolean {
  return dryRunMarkOf(req) !== undefined;
}
