import {
  awaitFleet,
  compileRouteTable,
  editGroup,
  errorRate,
  groupState,
  p99,
  parseRouteTable,
  since,
  sum,
  type CutoverSpec,
  type GroupState,
  type InstanceReport,
  type Mode,
  type RouteDocuments,
  type SideFigures,
  type TableTarget,
} from '@strangler/proxy';

/**
 * `strangler cutover GROUP`: the group's migration as a resumable state machine kept in the shared
 * store — shadow until the readiness gate, then each canary step baked and judged against the
 * monolith from the fleet's own figures, then service (the data writer switched with it, for a
 * group that takes writes). A failed verdict rolls back by itself to the last safe step; an
 * inconclusive one pauses. One cutover per group at a time, under a lease in the store.
 */

export type Outcome = 'promoted' | 'rolled-back' | 'paused';
export const EXIT_CODES: Record<Outcome, number> = { promoted: 0, 'rolled-back': 3, paused: 4 };

/** The plan's steps, in order: `shadow`, `canary <weight>`…, `service`. */
export type Step = { kind: 'shadow' } | { kind: 'canary'; weight: number } | { kind: 'service' };
export const stepName = (s: Step): string => (s.kind === 'canary' ? `canary ${s.weight} %` : s.kind);

export interface CutoverState {
  group: string;
  status: 'running' | 'paused' | 'promoted' | 'rolled-back' | 'aborted';
  startedAt: string;
  updatedAt: string;
  actor: string;
  reason: string;
  /** Where a rollback returns the group: its mode when the cutover began (monolith or shadow). */
  safe: 'monolith' | 'shadow';
  /** The next step to run (an index into the plan): a resumed cutover runs it again in full. */
  next: number;
  /** Whether the data writer was switched to the service (so a rollback switches it back). */
  dataSwitched: boolean;
  /** Why it ended or paused, and each step's verdict. */
  why?: string;
  verdicts: { step: string; verdict: string; at: string }[];
}

export interface Figures {
  target: SideFigures;
  monolith: SideFigures;
}

export type Verdict = { kind: 'pass' } | { kind: 'fail'; why: string } | { kind: 'inconclusive'; why: string };

/** The target against the monolith over a step: worse by the group's thresholds fails; too few requests cannot say. */
export function judge(f: Figures, spec: CutoverSpec): Verdict {
  const fewer = [f.target, f.monolith].some((s) => s.requests < spec.minRequests);
  const te = errorRate(f.target);
  const me = errorRate(f.monolith);
  if (f.target.requests >= spec.minRequests && te - me > spec.maxErrorRateIncrease)
    return {
      kind: 'fail',
      why: `error rate ${pct(te)} on the target against ${pct(me)} on the monolith (at most ${pct(spec.maxErrorRateIncrease)} more allowed), over ${f.target.requests} and ${f.monolith.requests} requests`,
    };
  const tp = p99(f.target);
  const mp = p99(f.monolith);
  if (!fewer && tp !== undefined && mp !== undefined && tp > mp * spec.maxP99Ratio && (tp - mp) * 1000 > spec.p99SlackMs)
    return {
      kind: 'fail',
      why: `p99 ${ms(tp)} on the target against ${ms(mp)} on the monolith (at most ×${spec.maxP99Ratio} or +${spec.p99SlackMs} ms allowed)`,
    };
  if (fewer)
    return {
      kind: 'inconclusive',
      why: `too few requests for a verdict: ${f.target.requests} on the target and ${f.monolith.requests} on the monolith, ${spec.minRequests} needed each`,
    };
  return { kind: 'pass' };
}

const pct = (r: number): string => `${(r * 100).toFixed(2)} %`;
const ms = (s: number): string => (Number.isFinite(s) ? `≤ ${Math.round(s * 1000)} ms` : `> the largest bucket`);

export interface CutoverEvent {
  at: string;
  group: string;
  event: 'plan' | 'step' | 'reroute' | 'gate' | 'verdict' | 'rollback' | 'promoted' | 'paused' | 'aborted';
  step?: string;
  detail?: string;
  /** Live figures of a canary step so far. */
  figures?: { target: Summary; monolith: Summary; secondsLeft: number };
}
interface Summary {
  requests: number;
  errorRate: number;
  p99Ms: number | null;
}
const summary = (s: SideFigures): Summary => {
  const p = p99(s);
  return { requests: s.requests, errorRate: errorRate(s), p99Ms: p === undefined || !Number.isFinite(p) ? null : Math.round(p * 1000) };
};

export interface GroupReadiness {
  ready: boolean;
  samples: number;
  detail: string;
}

export interface CutoverOptions {
  target: TableTarget;
  group: string;
  actor: string;
  reason: string;
  /** The readiness gate's judge (the fleet's shadow results); undefined when there are none to read. */
  readiness: ((sinceAt: Date) => Promise<GroupReadiness>) | undefined;
  /**
   * The step's functional gate (the contract suites and journeys against the target through preview
   * routing): run once at each step, before it bakes and before service; a failure rolls back.
   */
  gate: ((step: string) => Promise<{ ok: boolean; detail: string }>) | undefined;
  /**
   * Moves the group's data writer (and its mode) with the data toolkit; nothing when that side
   * writes already (a resumed or aborted run may not know); undefined when the group takes no writes.
   */
  switchData: ((to: 'service' | 'monolith') => Promise<void>) | undefined;
  /**
   * For a group that takes writes: a step that moves users between the sides (its mode or weight),
   * made with its writes frozen and drained, so no user moved finds their last write missing on
   * the other side. Returns what it says of it. Undefined when the group takes no writes.
   */
  reroute: ((mode: Exclude<Mode, 'service'>, weight: number | undefined, why: string) => Promise<string>) | undefined;
  /** How often the gates look at the figures. */
  tickMs: number;
  /** How long the readiness gate may take before the cutover pauses. */
  readinessTimeoutMs: number;
  resume: boolean;
  emit: (e: CutoverEvent) => void;
  signal?: AbortSignal;
}

const LEASE_MS = 30_000;
// Renews the lease only while this run still holds it; releases it the same way.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** A cutover the store refuses: another holds the group's lease, or one is paused and needs --resume or --abort. */
export class CutoverRefused extends Error {
  override readonly name = 'CutoverRefused';
}

export class Lease {
  readonly #docs: RouteDocuments;
  readonly #key: string;
  readonly #holder: string;
  #timer: NodeJS.Timeout | undefined;

  private constructor(docs: RouteDocuments, key: string, holder: string) {
    this.#docs = docs;
    this.#key = key;
    this.#holder = holder;
  }

  static async take(docs: RouteDocuments, group: string, holder: string): Promise<Lease> {
    const key = `${docs.prefix}:cutover:${group}:lease`;
    const ok = await docs.redis.set(key, holder, 'PX', LEASE_MS, 'NX');
    if (ok !== 'OK') {
      const by = await docs.redis.get(key);
      throw new CutoverRefused(`a cutover of ${group} is running, held by ${by ?? 'another run'}: one per group at a time`);
    }
    const lease = new Lease(docs, key, holder);
    lease.#timer = setInterval(() => void docs.redis.eval(RENEW, 1, key, holder, String(LEASE_MS)).catch(() => {}), LEASE_MS / 3);
    lease.#timer.unref();
    return lease;
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.#docs.redis.eval(RELEASE, 1, this.#key, this.#holder).catch(() => {});
  }
}

const stateKey = (docs: RouteDocuments, group: string): string => `${docs.prefix}:cutover:${group}`;

export async function readState(docs: RouteDocuments, group: string): Promise<CutoverState | undefined> {
  const raw = await docs.redis.get(stateKey(docs, group));
  return raw ? (JSON.parse(raw) as CutoverState) : undefined;
}

async function saveState(docs: RouteDocuments, s: CutoverState): Promise<void> {
  s.updatedAt = new Date().toISOString();
  await docs.redis.set(stateKey(docs, s.group), JSON.stringify(s));
}

export function planOf(spec: CutoverSpec): Step[] {
  return [{ kind: 'shadow' }, ...spec.steps.map((weight): Step => ({ kind: 'canary', weight })), { kind: 'service' }];
}

/** The group's cutover settings and whether its routes take writes, from the table's text. */
export function groupFacts(text: string, group: string): { state: GroupState; spec: CutoverSpec; writes: boolean; monolith: string } {
  const parsed = parseRouteTable(text);
  const g = parsed.source.groups[group];
  const state = groupState(text, group);
  if (!g || !state) throw new CutoverRefused(`the route table has no group "${group}"`);
  if (!g.target) throw new CutoverRefused(`group "${group}" has no target: set target to the service's upstream`);
  const table = compileRouteTable(text);
  return { state, spec: g.cutover, writes: table.takesWrites(group), monolith: table.defaultUpstream };
}

/** The share of users the target serves in a mode, percent: a step that changes it moves users between the sides. */
const targetShare = (mode: Mode, weight: number | undefined): number => (mode === 'service' ? 100 : mode === 'canary' ? (weight ?? 0) : 0);

/**
 * Whether the group's data writer may be the service: once switched, or while the service step
 * runs — a run that died between its switch and saving it left `dataSwitched` unset. `switchData`
 * finds out which side writes; only from the service step on, so a canary's rollback needs no database.
 */
function writerMayHaveMoved(state: CutoverState, plan: readonly Step[]): boolean {
  return state.dataSwitched || plan[state.next]?.kind === 'service';
}

export async function runCutover(o: CutoverOptions): Promise<{ outcome: Outcome; state: CutoverState }> {
  const docs = o.target.documents;
  if (!docs) throw new CutoverRefused('a cutover needs the shared store (--store or ROUTES_STORE_URL): its state and lease live there');
  const lease = await Lease.take(docs, o.group, `${o.actor} (pid ${process.pid})`);
  const emit = (e: Omit<CutoverEvent, 'at' | 'group'>): void => o.emit({ at: new Date().toISOString(), group: o.group, ...e });
  try {
    const first = await o.target.read();
    const facts = groupFacts(first.text, o.group);
    const plan = planOf(facts.spec);
    const previous = await readState(docs, o.group);
    let state: CutoverState;
    if (previous && (previous.status === 'running' || previous.status === 'paused')) {
      if (!o.resume)
        throw new CutoverRefused(
          `a cutover of ${o.group} is ${previous.status} before ${stepName(plan[previous.next] ?? plan.at(-1)!)} (${previous.why ?? 'interrupted'}): give --resume to go on, or --abort to return to ${previous.safe}`,
        );
      state = { ...previous, status: 'running' };
    } else {
      if (facts.state.mode === 'service') throw new CutoverRefused(`group ${o.group} is already served by ${facts.state.target}`);
      const now = new Date().toISOString();
      state = {
        group: o.group,
        status: 'running',
        startedAt: now,
        updatedAt: now,
        actor: o.actor,
        reason: o.reason,
        safe: facts.state.mode === 'monolith' ? 'monolith' : 'shadow',
        // A group already in canary goes on from the first step above its weight.
        next:
          facts.state.mode === 'canary'
            ? plan.findIndex((s) => s.kind === 'service' || (s.kind === 'canary' && s.weight > (facts.state.weight ?? 0)))
            : 0,
        dataSwitched: false,
        verdicts: [],
      };
    }
    await saveState(docs, state);
    emit({ event: 'plan', detail: plan.map((s, i) => `${i === state.next ? '→ ' : ''}${stepName(s)}`).join(', ') });

    /** `drained`: a change that moves users between the sides goes through `reroute`, when there is one. */
    const flip = async (mode: Mode, weight: number | undefined, why: string, drained = true): Promise<void> => {
      const from = await o.target.read();
      const now = groupState(from.text, o.group)!;
      if (now.mode === mode && (mode !== 'canary' || now.weight === weight)) return;
      if (drained && o.reroute && mode !== 'service' && targetShare(now.mode, now.weight) !== targetShare(mode, weight)) {
        emit({ event: 'reroute', step: stepName(plan[state.next] ?? plan.at(-1)!), detail: await o.reroute(mode, weight, why) });
        return;
      }
      const next = editGroup(from.text, o.group, { mode, weight: mode === 'canary' ? weight : undefined });
      const written = await o.target.write(from, next, {
        actor: o.actor,
        reason: `cutover: ${why}`,
        kind: 'flip',
        group: o.group,
        diff: [],
      });
      const c = await awaitFleet(docs, written.revision!, 10_000);
      if (!c.converged)
        throw new Error(
          `not every proxy took revision ${written.revision} within 10 s: ${c.stragglers.map((p) => p.id).join(', ') || 'no proxy reports to the store'}`,
        );
    };

    const rollback = async (why: string): Promise<{ outcome: Outcome; state: CutoverState }> => {
      emit({ event: 'rollback', detail: `${why}; back to ${state.safe}` });
      if (o.switchData && writerMayHaveMoved(state, plan)) {
        await o.switchData('monolith');
        state.dataSwitched = false;
      }
      await flip(state.safe, undefined, `rolled back to ${state.safe}: ${why}`).catch(async (err: unknown) => {
        // Back to safety first: users may meet their last write missing for as long as the replicator is behind.
        emit({ event: 'rollback', detail: `could not reroute with the writes drained (${(err as Error).message}): flipped as it is` });
        await flip(state.safe, undefined, `rolled back to ${state.safe}: ${why}`, false);
      });
      state.status = 'rolled-back';
      state.why = why;
      await saveState(docs, state);
      return { outcome: 'rolled-back', state };
    };
    const pause = async (why: string): Promise<{ outcome: Outcome; state: CutoverState }> => {
      state.status = 'paused';
      state.why = why;
      await saveState(docs, state);
      emit({ event: 'paused', detail: why });
      return { outcome: 'paused', state };
    };
    const wait = (msToWait: number): Promise<void> =>
      new Promise((resolve, reject) => {
        const t = setTimeout(resolve, msToWait);
        o.signal?.addEventListener('abort', () => (clearTimeout(t), reject(o.signal!.reason)), { once: true });
      });

    try {
      for (; state.next < plan.length; state.next++) {
        const step = plan[state.next]!;
        const name = stepName(step);
        emit({ event: 'step', step: name });
        await saveState(docs, state);
        const gate = async (): Promise<string | undefined> => {
          if (!o.gate) return undefined;
          const g = await o.gate(name);
          emit({ event: 'gate', step: name, detail: `gate ${g.ok ? 'passed' : 'failed'}: ${g.detail}` });
          return g.ok ? undefined : `${name}: the gate failed: ${g.detail}`;
        };
        if (step.kind === 'shadow') {
          await flip('shadow', undefined, `${name}: ${o.reason}`);
          if (!o.readiness) return await pause('no shadow results to judge readiness by: give --db or set STRANGLER_DATABASE_URL');
          const deadline = Date.now() + o.readinessTimeoutMs;
          const sinceAt = new Date(state.startedAt);
          for (;;) {
            const r = await o.readiness(sinceAt);
            emit({ event: 'gate', step: name, detail: r.detail });
            if (r.ready) break;
            if (Date.now() >= deadline)
              return await pause(`readiness gate not passed in ${Math.round(o.readinessTimeoutMs / 1000)} s: ${r.detail}`);
            await wait(o.tickMs);
          }
          const failed = await gate();
          if (failed) return await rollback(failed);
        } else if (step.kind === 'canary') {
          await flip('canary', step.weight, `${name}: ${o.reason}`);
          const failed = await gate();
          if (failed) return await rollback(failed);
          const start = new Map((await docs.fleet()).map((p) => [p.id, p]));
          const ends = Date.now() + facts.spec.bakeSeconds * 1000;
          let verdict: Verdict = { kind: 'inconclusive', why: 'no figures yet' };
          for (;;) {
            await wait(Math.min(o.tickMs, Math.max(0, ends - Date.now())));
            const f = fleetFigures(start, await docs.fleet(), o.group, facts.state.target!, facts.monolith);
            verdict = judge(f, facts.spec);
            const secondsLeft = Math.max(0, Math.ceil((ends - Date.now()) / 1000));
            emit({ event: 'gate', step: name, figures: { target: summary(f.target), monolith: summary(f.monolith), secondsLeft } });
            if (verdict.kind === 'fail' || Date.now() >= ends) break;
          }
          state.verdicts.push({
            step: name,
            verdict: verdict.kind === 'pass' ? 'pass' : `${verdict.kind}: ${verdict.why}`,
            at: new Date().toISOString(),
          });
          emit({ event: 'verdict', step: name, detail: verdict.kind === 'pass' ? 'pass' : `${verdict.kind}: ${verdict.why}` });
          if (verdict.kind === 'fail') return await rollback(`${name} failed: ${verdict.why}`);
          if (verdict.kind === 'inconclusive') return await pause(`${name} inconclusive: ${verdict.why}`);
        } else {
          const failed = await gate();
          if (failed) return await rollback(failed);
          if (facts.writes) {
            if (!o.switchData)
              return await pause(
                `group ${o.group} takes writes: its data writer moves with it, which needs the databases (DATA_MAPPING, MONOLITH_DATABASE_URL, <SERVICE>_DATABASE_URL)`,
              );
            await o.switchData('service');
            state.dataSwitched = true;
          } else await flip('service', undefined, `${name}: ${o.reason}`);
        }
      }
      state.status = 'promoted';
      state.why = `served by ${facts.state.target}`;
      await saveState(docs, state);
      emit({ event: 'promoted', detail: state.why });
      return { outcome: 'promoted', state };
    } catch (err) {
      if (o.signal?.aborted) {
        const out = await rollback(`interrupted at ${stepName(plan[state.next] ?? plan.at(-1)!)}`);
        out.state.status = 'aborted';
        await saveState(docs, out.state);
        return out;
      }
      // Anything else (the store, a proxy that did not take a step): back to safety, saying why.
      return await rollback(`${stepName(plan[state.next] ?? plan.at(-1)!)} could not run: ${(err as Error).message}`);
    }
  } finally {
    await lease.release();
  }
}

/** `--abort`: the group back at its last safe step and the cutover ended, under the lease. */
export async function abortCutover(
  o: Pick<CutoverOptions, 'target' | 'group' | 'actor' | 'switchData' | 'reroute' | 'emit'>,
): Promise<CutoverState> {
  const docs = o.target.documents;
  if (!docs) throw new CutoverRefused('a cutover needs the shared store (--store or ROUTES_STORE_URL)');
  const state = await readState(docs, o.group);
  if (!state || (state.status !== 'running' && state.status !== 'paused')) throw new CutoverRefused(`no cutover of ${o.group} to abort`);
  const lease = await Lease.take(docs, o.group, `${o.actor} (pid ${process.pid}, aborting)`);
  try {
    if (o.switchData && writerMayHaveMoved(state, planOf(groupFacts((await o.target.read()).text, o.group).spec)))
      await o.switchData('monolith');
    const at = groupState((await o.target.read()).text, o.group)!;
    if (o.reroute && targetShare(at.mode, at.weight) !== targetShare(state.safe, undefined)) {
      // As a rollback does: users moved back with the writes drained, or flipped anyway, saying why.
      const detail = await o
        .reroute(state.safe, undefined, `cutover aborted: back to ${state.safe}`)
        .catch((err: unknown) => `could not reroute with the writes drained (${(err as Error).message}): flipped as it is`);
      o.emit({ at: new Date().toISOString(), group: o.group, event: 'reroute', detail });
    }
    const from = await o.target.read();
    const next = editGroup(from.text, o.group, { mode: state.safe, weight: undefined });
    if (next !== from.text) {
      const written = await o.target.write(from, next, {
        actor: o.actor,
        reason: `cutover aborted: back to ${state.safe}`,
        kind: 'rollback',
        group: o.group,
        diff: [],
      });
      await awaitFleet(docs, written.revision!, 10_000);
    }
    Object.assign(state, { status: 'aborted', dataSwitched: false, why: `aborted by ${o.actor}` });
    await saveState(docs, state);
    o.emit({ at: new Date().toISOString(), group: o.group, event: 'aborted', detail: `back to ${state.safe}` });
    return state;
  } finally {
    await lease.release();
  }
}

/** The fleet's figures for the group's target and monolith since `start` (each proxy against its own earlier report). */
export function fleetFigures(
  start: ReadonlyMap<string, InstanceReport>,
  now: readonly InstanceReport[],
  group: string,
  target: string,
  monolith: string,
): Figures {
  const side = (upstream: string): SideFigures =>
    sum(
      now
        .map((p) => {
          const later = p.live?.[group]?.[upstream];
          return later && since(start.get(p.id)?.live?.[group]?.[upstream], later);
        })
        .filter((x): x is SideFigures => Boolean(x)),
    );
  return { target: side(target), monolith: side(monolith) };
}
