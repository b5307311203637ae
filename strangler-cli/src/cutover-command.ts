import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import {
  buildReport,
  compileRouteTable,
  defaultActor,
  groupState,
  PostgresShadowStore,
  type Mode,
  type TableTarget,
} from '@strangler/proxy';
import { closeService, DataUsageError, loadMappingFile, openService, switchWriter, syncStatus, type ServiceData } from '@strangler/data';
import { withPassword } from '@strangler/service-kit/secret-url';
import {
  abortCutover,
  CutoverRefused,
  EXIT_CODES,
  groupFacts,
  planOf,
  runCutover,
  stepName,
  type CutoverEvent,
  type GroupReadiness,
} from './cutover.ts';
import { settingsOf } from './report-command.ts';
import { storeOf } from './table-commands.ts';
import { usage } from './usage.ts';

/** The readiness gate from the fleet's shadow results: every shadowed route of the group ready by its own gate. */
function readinessFrom(store: PostgresShadowStore, target: TableTarget, group: string): (sinceAt: Date) => Promise<GroupReadiness> {
  return async (sinceAt) => {
    const table = compileRouteTable((await target.read()).text);
    const routes = new Set(table.routes.filter((r) => r.group === group).map((r) => r.name));
    const reports = buildReport(await store.counters({ since: sinceAt }), settingsOf(table)).filter((r) => routes.has(r.route));
    if (!reports.length) return { ready: false, samples: 0, detail: `no shadow samples of ${group}'s routes yet` };
    const samples = reports.reduce((n, r) => n + r.samples, 0);
    return {
      ready: reports.every((r) => r.readiness.ready),
      samples,
      detail: reports
        .map((r) => `${r.route}: ${r.samples} samples, score ${r.readiness.score}${r.readiness.ready ? ', ready' : `, ${r.readiness.why}`}`)
        .join('; '),
    };
  };
}

function print(e: CutoverEvent, json: boolean): void {
  if (json) return console.log(JSON.stringify(e));
  const f = e.figures;
  const figures = f
    ? `target ${f.target.requests} req, ${(f.target.errorRate * 100).toFixed(2)} % 5xx, p99 ${f.target.p99Ms ?? '—'} ms | monolith ${f.monolith.requests} req, ${(f.monolith.errorRate * 100).toFixed(2)} % 5xx, p99 ${f.monolith.p99Ms ?? '—'} ms | ${f.secondsLeft} s left`
    : '';
  console.log(`${e.at.slice(11, 19)} ${e.event.padEnd(8)} ${e.step ? `${e.step}: ` : ''}${e.detail ?? ''}${figures}`);
}

/** `strangler cutover GROUP`: shadow → canary steps → service, gated, rolled back by itself on a failed gate. */
export function registerCutoverCommand(program: Command): void {
  program
    .command('cutover <group>')
    .description(
      'move a group all the way, gated: shadow until ready, each canary step baked and judged against the monolith from the fleet’s figures, then service (its data writer with it); a failed gate rolls back by itself; exit 0 promoted, 3 rolled back, 4 paused',
    )
    .option('--reason <text>', 'why: kept in the audit with every step')
    .option('--store <url>', 'the shared store (default: ROUTES_STORE_URL)')
    .option('--store-prefix <prefix>', 'its key prefix (default: ROUTES_STORE_PREFIX or strangler:routes)')
    .option('--db <url>', 'the shadow results, for the readiness gate (default: STRANGLER_DATABASE_URL)')
    .option('--service <name>', 'for a group that takes writes: the service whose rows move with it (default: the group’s name)')
    .option(
      '--gate <command>',
      'run at every step against the target through preview routing (e.g. "npm run e2e"); its environment has E2E_PREVIEW=group:<group>, E2E_ADMIN_TOKEN (ADMIN_TOKEN), STRANGLER_CUTOVER_STEP; non-zero exit rolls back',
    )
    .option('--gate-timeout <s>', 'how long one run of the gate may take', (v) => Number(v), 1800)
    .option('--tick-ms <ms>', 'how often the gates look at the figures', (v) => Number(v), 5000)
    .option('--readiness-timeout <s>', 'how long the readiness gate may take before the cutover pauses', (v) => Number(v), 86_400)
    .option('--resume', 'go on with a paused or interrupted cutover from the step it was at')
    .option('--abort', 'end a paused or interrupted cutover: the group back at its last safe step (and its data writer)')
    .option('--dry-run', 'print the plan and the thresholds, change nothing')
    .option('--json', 'one JSON object per event, for pipelines')
    .option('--actor <name>', 'who (default: user@host)')
    .action(
      async (
        group: string,
        o: {
          reason?: string;
          store?: string;
          storePrefix?: string;
          db?: string;
          service?: string;
          gate?: string;
          gateTimeout: number;
          tickMs: number;
          readinessTimeout: number;
          resume?: boolean;
          abort?: boolean;
          dryRun?: boolean;
          json?: boolean;
          actor?: string;
        },
      ) => {
        if (!(o.tickMs >= 50)) usage('--tick-ms must be at least 50');
        if (!(o.gateTimeout > 0)) usage('--gate-timeout must be a number of seconds');
        if (o.gate && !process.env.ADMIN_TOKEN)
          usage('--gate needs ADMIN_TOKEN: preview routing to the target is honoured only with the proxy’s admin token');
        if (!(o.readinessTimeout > 0)) usage('--readiness-timeout must be a number of seconds');
        if (!o.dryRun && !o.abort && !o.reason?.trim()) usage('--reason must say why (it is kept in the audit with every step)');
        const target = await (storeOf(o) ?? usage('a cutover needs the shared store: give --store URL or set ROUTES_STORE_URL'));
        const actor = o.actor ?? defaultActor();
        const emit = (e: CutoverEvent): void => print(e, Boolean(o.json));
        const db =
          o.db ??
          (process.env.STRANGLER_DATABASE_URL && withPassword(process.env.STRANGLER_DATABASE_URL, process.env.STRANGLER_DATABASE_PASSWORD));
        let shadowStore: PostgresShadowStore | undefined;
        try {
          const facts = groupFacts((await target.read()).text, group);
          if (o.dryRun) {
            const plan = planOf(facts.spec);
            const s = facts.spec;
            console.log(`cutover of ${group} (now ${facts.state.mode}), target ${facts.state.target}, monolith ${facts.monolith}`);
            console.log(`  steps:      ${plan.map(stepName).join(' → ')}`);
            console.log(`  bake:       ${s.bakeSeconds} s per canary step, judged every ${o.tickMs} ms`);
            console.log(
              `  fails when: the target's 5xx rate exceeds the monolith's by more than ${(s.maxErrorRateIncrease * 100).toFixed(2)} points, or its p99 is over ×${s.maxP99Ratio} and +${s.p99SlackMs} ms of the monolith's`,
            );
            console.log(`  pauses when: fewer than ${s.minRequests} requests on either side by the end of a step`);
            console.log(
              `  readiness:  every shadowed route of the group ready by its gate (${db ? 'from the shadow results database' : 'NO shadow results database: it would pause'})`,
            );
            console.log(
              `  rollback:   to ${facts.state.mode === 'monolith' ? 'monolith' : 'shadow'}${facts.writes ? ', the data writer back to the monolith' : ''}`,
            );
            return;
          }
          const moves = facts.writes ? dataMoves(target, o.service ?? group, group, actor, o.reason ?? 'cutover') : undefined;
          const switchData = moves?.switchData;
          if (o.abort) {
            await abortCutover({ target, group, actor, switchData, reroute: moves?.reroute, emit });
            process.exitCode = EXIT_CODES['rolled-back'];
            return;
          }
          // One pool for the whole cutover: the readiness gate asks every tick.
          shadowStore = db ? await PostgresShadowStore.open(db) : undefined;
          const abort = new AbortController();
          process.once('SIGINT', () => abort.abort(new Error('interrupted')));
          process.once('SIGTERM', () => abort.abort(new Error('interrupted')));
          const { outcome, state } = await runCutover({
            target,
            group,
            actor,
            reason: o.reason!,
            readiness: shadowStore ? readinessFrom(shadowStore, target, group) : undefined,
            gate: o.gate ? gateRunner(o.gate, group, o.gateTimeout * 1000) : undefined,
            switchData,
            reroute: moves?.reroute,
            tickMs: o.tickMs,
            readinessTimeoutMs: o.readinessTimeout * 1000,
            resume: Boolean(o.resume),
            emit,
            signal: abort.signal,
          });
          if (!o.json) console.log(`${outcome}: ${state.why ?? ''}`);
          process.exitCode = EXIT_CODES[outcome];
        } catch (err) {
          if (!(err instanceof CutoverRefused || err instanceof DataUsageError)) throw err;
          console.error(err.message);
          process.exit(1);
        } finally {
          target.close();
          await shadowStore?.close();
        }
      },
    );
}

/**
 * For a group that takes writes, through the data toolkit's switch on the same store: its
 * service's data writer moved (nothing when that side writes already), and steps that move users
 * between the sides made with the group's writes frozen and drained.
 */
function dataMoves(target: TableTarget, service: string, group: string, actor: string, reason: string) {
  const withData = async <T>(fn: (data: ServiceData) => Promise<T>): Promise<T> => {
    const data = openService(service, loadMappingFile(process.env.DATA_MAPPING));
    try {
      return await fn(data);
    } finally {
      await closeService(data);
    }
  };
  const options = { routes: target, group, proxies: [], actor, reason: `cutover: ${reason}` };
  return {
    switchData: (to: 'service' | 'monolith'): Promise<void> =>
      withData(async (data) => {
        // Asked of the data, not of the cutover's state: a run that died right after its switch never recorded it.
        const { writer } = await syncStatus(data);
        if (writer === to) {
          const mode = groupState((await target.read()).text, group)?.mode;
          if (to === 'service' && mode !== 'service')
            throw new Error(
              `the service writes the ${service} rows but group ${group} is in ${mode} mode: the routes and the writer disagree (edited by hand?); see \`strangler data status ${service}\` and \`strangler history ${group}\``,
            );
          return;
        }
        const r = await switchWriter({ ...options, data, to });
        if (r.outcome !== 'switched') throw new Error(`the data switch to the ${to} was undone at ${r.failedStep}: ${r.error}`);
      }),
    reroute: (mode: Exclude<Mode, 'service'>, weight: number | undefined, why: string): Promise<string> =>
      withData(async (data) => {
        const r = await switchWriter({ ...options, reason: `cutover: ${why}`, data, to: 'monolith', reroute: { mode, weight } });
        if (r.outcome !== 'switched') throw new Error(`the reroute to ${mode} was undone at ${r.failedStep}: ${r.error}`);
        return `${mode}${weight === undefined ? '' : ` ${weight} %`} with the writes frozen for ${r.frozenMs} ms and drained`;
      }),
  };
}

/** The gate as a shell command against the target through preview routing: its exit code and the end of its output. */
function gateRunner(command: string, group: string, timeoutMs: number) {
  return async (step: string): Promise<{ ok: boolean; detail: string }> => {
    const g = await runGate(command, { E2E_PREVIEW: `group:${group}`, STRANGLER_CUTOVER_STEP: step }, timeoutMs);
    return { ok: g.ok, detail: g.detail };
  };
}

/**
 * A gate command run through `sh -c` with the preview settings (`E2E_PREVIEW` and friends), and the
 * admin token as `E2E_ADMIN_TOKEN`: whether it passed, a line saying how it ended, and the end of its
 * output — both with the admin token masked, since they are kept in the store and the log.
 */
export function runGate(
  command: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ ok: boolean; detail: string; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], {
      env: { ...process.env, E2E_ADMIN_TOKEN: process.env.ADMIN_TOKEN, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    const keep = (d: Buffer): void => {
      tail = (tail + d.toString()).slice(-65_536);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const token = process.env.ADMIN_TOKEN;
      const hide = (text: string): string => (token ? text.split(token).join('***') : text);
      const last = tail.trim().split('\n').slice(-5).join(' | ');
      const how = code === 0 ? 'passed' : signal ? `was stopped after ${Math.round(timeoutMs / 1000)} s` : `exited ${code}`;
      resolve({ ok: code === 0, detail: hide(`"${command}" ${how}${code !== 0 && last ? `: ${last}` : ''}`), output: hide(tail) });
    });
  });
}
