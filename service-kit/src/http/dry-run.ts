import type { IncomingMessage } from 'node:http';

/** The header the strangler proxy puts on a mirrored write: run it, answer it, keep nothing. */
export const DRY_RUN_HEADER = 'x-strangler-shadow';

/** Whether this write must be rolled back after computing its answer. */
export function isDryRun(req: Pick<IncomingMessage, 'headers'>): boolean {
  return req.headers[DRY_RUN_HEADER] === '1';
}
