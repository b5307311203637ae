import { performance } from 'node:perf_hooks';
import type { ProxyAdminClient } from '@strangler/proxy/admin-client';
import { editGroup, groupState } from '@strangler/proxy/route-file';
import { awaitFleet, fileTarget, fleetWrites, type TableTarget } from '@strangler/proxy/table-target';
import { backfill } from './backfill.ts';
import { deadLetterRefusal, describeChange, type DeadLetterPolicy } from './dead-letters.ts';
import { drain, drainHoldingLock, pendingBySide, prepareSync, withSyncLock, type ServiceData } from './replicate.ts';
import { readSyncState, recordSwitch, setWriter, type SwitchRecord } from './sync-state.ts';
import type { Side } from './table-mapping.ts';

/** The steps of a writer switch, in order. Any of them can fail or be aborted; what was done is undone. */
/** How long every proxy of a fleet has to take a change of the shared table. */
const FLEET_TIMEOUT_MS = 10_000;

export const SWITCH_STEPS = ['check', 'freeze', 'drain-requests', 'drain-changes', 'switch-writer', 'flip-route', 'unfreeze'] as const;
export type SwitchStep = (typeof SWITCH_STEPS)[number];

export interface SwitchOptions {
  data: ServiceData;
  /** The side that takes the writes. */
  to: Side;
  /**
   * Where the proxies' route table is changed: the fleet's shared store, or the one file a proxy
   * serves (`routesFile`, for short).
   */
  routes?: TableTarget;
  routesFile?: string;
  /** The route group holding the service's routes (default: the service's name). */
  group?: string;
  /**
   * Proxies to reload after each change and ask for the writes they still run: every proxy serving a
   * file; with the store, any whose admin URL is known (every proxy reporting to the store must take
   * each change in any case).
   */
  proxies: readonly ProxyAdminClient[];
  /** Who asks, and why: recorded with the switch. */
  actor: string;
  reason: string;
  /** Longest wait for writes routed before the freeze to finish, ms (default 30 000). */
  requestsTimeoutMs?: number;
  /** Longest wait for the changes captured before the freeze to be applied, ms (default 60 000). */
  changesTimeoutMs?: number;
  /** When a change the other side keeps refusing during the drain becomes a dead letter (default: 3 passes, 10 s); any dead letter refuses the switch. */
  deadLetter?: DeadLetterPolicy;
  /** Aborting it (Ctrl-C) stops before the next step and undoes what was done. */
  signal?: AbortSignal;
  /**
   * Keep the writer (`to` names the side writing now) and change the group's mode and canary weight
   * instead, under the same freeze and drains: users moved from one side to the other then find
   * every write they made on the first already copied (a canary step of a group that takes
   * writes). Not recorded as a switch.
   */
  reroute?: { mode: 'monolith' | 'shadow' | 'canary'; weight?: number | undefined };
  /** Told before each step starts. */
  onStep?: (step: SwitchStep) => void | Promise<void>;
}

export interface SwitchResult extends Omit<SwitchRecord, 'startedAt' | 'finishedAt'> {
  /** Problems met while undoing an aborted switch (each needs a look). */
  undoErrors: string[];
}

/** A step's refusal: the message says what is wrong and what to do. */
export class SwitchError extends Error {
  override readonly name = 'SwitchError';
}

const POLL_MS = 25;

/**
 * Moves the writes of one service's routes to `to`, without losing or doubling any:
 *
 * 1. check — the group exists and matches the current writer; the proxies answer.
 * 2. freeze — the group's writes get 503 + Retry-After (a new route table, reloaded by every proxy).
 * 3. drain-requests — wait until no write routed by an older table is still running.
 * 4. drain-changes — apply every captured change to the other side: lag 0, and no dead letter.
 * 5. switch-writer — under the sync lock, a last drain and the new writer recorded.
 * 6. flip-route — the group's mode becomes `service` (or `monolith`); still frozen.
 * 7. unfreeze — writes flow again, to the new writer.
 *
 * With `reroute`, the same without step 5: the writer stays, the group's mode and weight change.
 *
 * On a failure or an abort, what was done is undone in reverse (writer back, the original table
 * back), and the switch is recorded as aborted with the failing step. Every switch is recorded in
 * the service's database (`strangler_switches`): who, when, why, from → to, the table it produced.
 */
export async function switchWriter(o: SwitchOptions): Promise<SwitchResult> {
  const service = o.data.mapping.service;
  const group = o.group ?? service;
  const startedAt = new Date();
  const steps: SwitchRecord['steps'] = [];
  const undoErrors: string[] = [];
  const routes = o.routes ?? (o.routesFile ? fileTarget(o.routesFile) : undefined);
  if (!routes) throw new SwitchError('give the route table to change: routes (the shared store) or routesFile');
  let version = await routes.read();
  const originalText = version.text;
  let from: Side = o.to === 'service' ? 'monolith' : 'service';
  let text = originalText;
  let routesHash: string | undefined;
  let frozenRevision: number | undefined;
  let frozenAt: number | undefined;
  let frozenMs: number | undefined;
  let published = false;
  let writerChanged = false;
  let failedStep: SwitchStep | undefined;
  let error: string | undefined;

  const publish = async (next: string): Promise<string> => {
    published = true;
    version = await routes.write(version, next, {
      actor: o.actor,
      reason: o.reroute
        ? `${group} rerouted to ${o.reroute.mode}${o.reroute.mode === 'canary' ? ` ${o.reroute.weight} %` : ''} with its writes drained: ${o.reason}`
        : `data switch of ${service} to the ${o.to}: ${o.reason}`,
      kind: 'flip',
      group,
      diff: [],
    });
    const hash = version.hash;
    text = next;
    for (const proxy of o.proxies) {
      const r = await proxy.reload();
      if (r.hash !== hash)
        throw new SwitchError(
          `the proxy at ${proxy.url} serves table ${r.hash}, not the one just written (${hash}): was ${routes.where} edited meanwhile?`,
        );
    }
    if (routes.documents && version.revision !== undefined) {
      const c = await awaitFleet(routes.documents, version.revision, FLEET_TIMEOUT_MS);
      if (!c.converged)
        throw new SwitchError(
          `not every proxy took revision ${version.revision} within ${FLEET_TIMEOUT_MS / 1000} s: ${c.stragglers.map((p) => `${p.id} (revision ${p.revision}${p.stale ? ', stale' : ''})`).join(', ') || 'no proxy reports to the store'}`,
        );
    }
    return hash;
  };

  // A dead letter is a change one side has and the other refused: switching would make the side
  // missing it the writer. Refused at check, and again after each drain, naming them.
  const refuseDeadLetters = async (): Promise<void> => {
    const refusal = await deadLetterRefusal(o.data.pools.service, service);
    if (refusal) throw new SwitchError(refusal);
  };
  const policy = o.deadLetter ? { deadLetter: o.deadLetter } : {};

  const run = async (step: SwitchStep, fn: () => Promise<string>): Promise<void> => {
    failedStep = step;
    o.signal?.throwIfAborted();
    await o.onStep?.(step);
    o.signal?.throwIfAborted();
    const t0 = performance.now();
    try {
      const detail = await fn();
      steps.push({ step, ms: Math.round(performance.now() - t0), ok: true, detail });
    } catch (err) {
      steps.push({ step, ms: Math.round(performance.now() - t0), ok: false, detail: (err as Error).message });
      throw err;
    }
  };

  try {
    await run('check', async () => {
      const g = groupState(originalText, group);
      if (!g)
        throw new SwitchError(
          `${routes.where} has no group "${group}": put the service's routes in one group (groups: ${group}: …) so they flip together`,
        );
      if (!g.target) throw new SwitchError(`group "${group}" has no target: set target to the service's upstream`);
      if (g.frozen)
        throw new SwitchError(
          `group "${group}" is already frozen: another switch is running, or one was interrupted (see \`strangler data status ${service}\`); set frozen: false to clear it`,
        );
      // Capture was installed by the backfill: no DDL here, it would lock tables under live traffic.
      const state = await readSyncState(o.data.pools.service, service).catch(() => {
        throw new SwitchError(`${service} has no sync state: run \`strangler data backfill ${service}\` first`);
      });
      from = state.writer;
      if (o.reroute && from !== o.to)
        throw new SwitchError(`a reroute keeps the writer, but the ${from} writes the ${service} rows, not the ${o.to}`);
      if (o.reroute && o.reroute.mode !== 'monolith' && from !== 'monolith')
        throw new SwitchError(
          `in ${o.reroute.mode} mode the monolith writes the ${service} rows: switch the writer for that, not a reroute`,
        );
      if (!o.reroute && from === o.to) throw new SwitchError(`the ${o.to} already writes the ${service} rows; nothing to switch`);
      if (o.to === 'service' && !state.backfilledAt)
        throw new SwitchError(`${service} has not been backfilled: run \`strangler data backfill ${service}\` first`);
      const routedToService = g.mode === 'service';
      if (routedToService !== (from === 'service')) {
        throw new SwitchError(
          `group "${group}" is in ${g.mode} mode but the ${from} writes the rows: flip them together with this command, not by hand (switch the writer to ${routedToService ? 'service' : 'monolith'} first)`,
        );
      }
      await refuseDeadLetters();
      for (const proxy of o.proxies) await proxy.writes();
      return `writer ${from}; group ${group} in ${g.mode} mode; ${o.proxies.length} proxies`;
    });

    await run('freeze', async () => {
      routesHash = await publish(editGroup(text, group, { frozen: true }));
      frozenRevision = version.revision;
      frozenAt = performance.now();
      return `table ${routesHash}`;
    });

    await run('drain-requests', async () => {
      const deadline = Date.now() + (o.requestsTimeoutMs ?? 30_000);
      // The most seen at once, for the record: a client's answer is not the end of its write.
      const waited = { writes: 0, abandoned: 0 };
      for (const proxy of o.proxies) {
        for (;;) {
          const w = await proxy.writes();
          waited.writes = Math.max(waited.writes, w.onOlderTables);
          waited.abandoned = Math.max(waited.abandoned, w.abandonedOnOlderTables ?? 0);
          if (w.hash === routesHash && w.onOlderTables === 0) break;
          if (Date.now() > deadline)
            throw new SwitchError(
              `the proxy at ${proxy.url} still runs ${w.onOlderTables} writes routed before the freeze (answers not sent, or upstream attempts not done)`,
            );
          await sleep(POLL_MS, o.signal);
        }
      }
      // A fleet on the store is waited for by the proxies' own reports, whose admin URLs a switch
      // run from a pipeline does not know; each report is at most a poll old.
      if (routes.documents && frozenRevision !== undefined) {
        for (;;) {
          const f = fleetWrites(await routes.documents.fleet(), frozenRevision);
          waited.writes = Math.max(
            waited.writes,
            f.running.reduce((n, p) => n + p.writes, 0),
          );
          waited.abandoned = Math.max(
            waited.abandoned,
            f.running.reduce((n, p) => n + p.abandoned, 0),
          );
          if (f.drained) break;
          if (Date.now() > deadline)
            throw new SwitchError(
              [
                ...f.running.map(
                  (p) =>
                    `the proxy ${p.id} still runs ${p.writes} writes routed before the freeze (answers not sent, or upstream attempts not done)`,
                ),
                ...f.unknown.map((p) =>
                  p.revision < frozenRevision!
                    ? `the proxy ${p.id} has not reported revision ${frozenRevision} yet`
                    : `the proxy ${p.id} does not report the writes it runs (older than this toolkit): upgrade it`,
                ),
              ].join('; ') || 'no proxy reports to the store',
            );
          await sleep(POLL_MS, o.signal);
        }
      }
      return `no write routed before the freeze is running, nor any upstream attempt of one (waited for up to ${waited.writes} writes, ${waited.abandoned} of them attempts the proxy had given up on, each held for its upstream's timeout)`;
    });

    await run('drain-changes', async () => {
      const deadline = Date.now() + (o.changesTimeoutMs ?? 60_000);
      let applied = 0;
      for (;;) {
        const r = await drain(o.data, { deadline, ...policy });
        applied += r.applied + r.strays;
        if (r.done) break;
        if (Date.now() > deadline) {
          const p = await pendingBySide(o.data);
          const refused = r.failing.length ? `; refused by the other side: ${r.failing.slice(0, 3).map(describeChange).join('; ')}` : '';
          throw new SwitchError(
            `${p.monolith.changes + p.service.changes} changes still not applied after ${o.changesTimeoutMs ?? 60_000} ms${refused} (see the replicator's log)`,
          );
        }
        // Only refused changes are left: give them a moment, not a busy loop.
        if (r.failing.length) await sleep(POLL_MS * 4, o.signal);
        o.signal?.throwIfAborted();
      }
      await refuseDeadLetters();
      return `applied ${applied} changes; lag 0`;
    });

    if (!o.reroute)
      await run('switch-writer', () =>
        withSyncLock(o.data, async () => {
          // Nothing can be written while frozen, but a straggler may have committed since the drain.
          const last = await drainHoldingLock(o.data, from, { deadline: Date.now() + 5_000, ...policy });
          await refuseDeadLetters();
          if (last.failing.length)
            throw new SwitchError(
              `the other side refused a change while frozen: ${last.failing.slice(0, 3).map(describeChange).join('; ')}`,
            );
          if (!last.done)
            throw new SwitchError('changes kept arriving while frozen: something writes the rows without going through the proxy');
          await setWriter(o.data.pools.service, service, o.to);
          writerChanged = true;
          return `the ${o.to} writes from now on${last.applied + last.strays ? ` (${last.applied + last.strays} last changes applied)` : ''}`;
        }),
      );

    await run('flip-route', async () => {
      const mode = o.reroute?.mode ?? (o.to === 'service' ? 'service' : 'monolith');
      const weight = mode === 'canary' ? o.reroute?.weight : undefined;
      routesHash = await publish(editGroup(text, group, { mode, weight }));
      return `group ${group} → ${mode}${weight === undefined ? '' : ` ${weight} %`} (table ${routesHash})`;
    });

    await run('unfreeze', async () => {
      routesHash = await publish(editGroup(text, group, { frozen: false }));
      frozenMs = Math.round(performance.now() - frozenAt!);
      return `writes flow to the ${o.to} (table ${routesHash})`;
    });
    failedStep = undefined;
  } catch (err) {
    error = o.signal?.aborted && err === o.signal.reason ? `aborted before ${failedStep}` : (err as Error).message;
    if (writerChanged) {
      await withSyncLock(o.data, () => setWriter(o.data.pools.service, service, from)).catch((e: unknown) =>
        undoErrors.push(`writer not set back to ${from}: ${(e as Error).message}`),
      );
    }
    if (published) {
      try {
        routesHash = await publish(originalText);
      } catch (e) {
        undoErrors.push(`the original route table could not be restored everywhere: ${(e as Error).message}`);
      }
    }
    if (frozenAt !== undefined) frozenMs = Math.round(performance.now() - frozenAt);
  }

  const record: SwitchRecord = {
    service,
    from,
    to: o.to,
    actor: o.actor,
    reason: o.reason,
    outcome: failedStep ? 'aborted' : 'switched',
    failedStep,
    error: error && undoErrors.length ? `${error}; while undoing: ${undoErrors.join('; ')}` : error,
    steps,
    frozenMs,
    routesHash,
    startedAt,
    finishedAt: new Date(),
  };
  if (!o.reroute)
    await recordSwitch(o.data.pools.service, record).catch((e: unknown) =>
      undoErrors.push(`the switch could not be recorded: ${(e as Error).message}`),
    );
  const { startedAt: _s, finishedAt: _f, ...result } = record;
  return { ...result, undoErrors };
}

/**
 * Without a proxy to freeze (nothing serves the routes yet, as when the stack starts): apply every
 * pending change and set the writer. Refused while anything could be writing: only call it before
 * the routes are served.
 */
export async function setWriterOffline(data: ServiceData, to: Side): Promise<{ changed: boolean; applied: number }> {
  await prepareSync(data);
  return withSyncLock(data, async () => {
    const state = await readSyncState(data.pools.service, data.mapping.service);
    const r = await drainHoldingLock(data, state.writer, { deadline: Date.now() + 60_000 });
    if (state.writer !== to) {
      // The same rule as a live switch: never make the side that misses a change the writer.
      if (r.failing.length)
        throw new SwitchError(
          `${data.mapping.service}: the other side refuses ${r.failing.slice(0, 3).map(describeChange).join('; ')}; fix that before the writer changes`,
        );
      const refusal = await deadLetterRefusal(data.pools.service, data.mapping.service);
      if (refusal) throw new SwitchError(refusal);
    }
    if (!r.done && !r.failing.length)
      throw new SwitchError(`${data.mapping.service}: changes kept arriving; is something still writing its rows?`);
    if (state.writer !== to) await setWriter(data.pools.service, data.mapping.service, to);
    return { changed: state.writer !== to, applied: r.applied + r.strays };
  });
}

/**
 * For a system starting up, before anything serves the routes: the service's rows copied once
 * (backfill, when never done), then its writer set to what the route table routes the service's
 * group to (`service` mode → the service; any other → the monolith).
 */
export async function alignWriter(
  data: ServiceData,
  routesText: string,
  group = data.mapping.service,
): Promise<{ backfilled: boolean; writer: Side; changed: boolean }> {
  const state = await prepareSync(data);
  const backfilled = !state.backfilledAt && state.writer === 'monolith';
  if (backfilled) await backfill(data);
  const writer: Side = groupState(routesText, group)?.mode === 'service' ? 'service' : 'monolith';
  const { changed } = await setWriterOffline(data, writer);
  return { backfilled, writer, changed };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
