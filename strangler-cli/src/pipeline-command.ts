import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { BUILD_AND_TEST, GATE_COMMANDS, PIPELINE_STAGES, stagesFor, type StageName } from '@strangler/infra/pipeline-stages';
import { BLUE_GREEN_APPS, CUTOVER_APPS, commandOf, type DeployedApp } from '@strangler/infra/service-catalog';
import {
  awaitFleet,
  compileRouteTable,
  defaultActor,
  diffLines,
  diffTables,
  editUpstream,
  groupState,
  type TableVersion,
} from '@strangler/proxy';
import { askStack, type ControlledProcess } from '@strangler/stack/control-client';
import { runGate } from './cutover-command.ts';
import { storeOf } from './table-commands.ts';
import { usage } from './usage.ts';

/**
 * `strangler pipeline <service>`: the one parameterised pipeline on one machine, against a running
 * `npm start` with a shared route table. The stages are the list the CDK construct is built from
 * (`@strangler/infra/pipeline-stages`); each has its local counterpart: no Docker and no ECS here,
 * so the image's entry point is what runs, and the stack runs green beside blue.
 */

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

/** Exit codes: a stage failed 1, usage or no stack 2, the cutover rolled back 3 or paused 4 (its own codes), the deployment's gate red 5, interrupted 130. */
export const PIPELINE_EXIT = { passed: 0, failed: 1, usage: 2, gateFailed: 5, interrupted: 130 } as const;

/** A stage that did not pass: why, and the exit code it ends the run with. */
class StageFailed extends Error {
  override readonly name = 'StageFailed';
  readonly code: number;
  constructor(message: string, code: number = PIPELINE_EXIT.failed) {
    super(message);
    this.code = code;
  }
}

interface StageResult {
  name: StageName;
  status: 'passed' | 'failed' | 'skipped' | 'not run';
  seconds?: number;
  note: string;
}

interface Options {
  from?: string;
  dryRun?: boolean;
  gate?: string;
  tickMs: number;
  gateTimeout: number;
  reason?: string;
  json?: boolean;
}

/** The running stack's control socket (`STACK_CONTROL_SOCKET`, from stack.json): a JSON request and its answer. */
const control = (method: string, pathname: string): Promise<{ status: number; body: unknown }> =>
  askStack(process.env.STACK_CONTROL_SOCKET!, method, pathname);

/** The stack's process of that name, if it runs one. */
const runningProcess = async (name: string): Promise<ControlledProcess | undefined> =>
  (await controlOk<ControlledProcess[]>('GET', '/processes')).find((p) => p.name === name);

async function controlOk<T>(method: string, pathname: string): Promise<T> {
  const r = await control(method, pathname);
  if (r.status >= 300) {
    const e = (r.body as { error?: { code: string; message: string } }).error;
    throw new StageFailed(`the stack refused ${method} ${pathname}: ${e?.message ?? r.status} (${e?.code ?? 'error'})`);
  }
  return r.body as T;
}

/** The names of the tests a gate's output says failed (vitest's `FAIL`/`×` lines, node:test's `✖`), once each. */
export function failedTests(output: string): string[] {
  const names = output
    .split('\n')
    // eslint-disable-next-line no-control-regex
    .map((l) => l.replace(/\u001b\[[0-9;]*m/g, '').trim())
    .map((l) => /^(?:FAIL|×|✖|✗)\s+(.+?)(?:\s+\(?\d+(?:\.\d+)?\s?m?s\)?)?$/.exec(l)?.[1])
    .filter((n): n is string => Boolean(n) && !/^failing tests:?$/i.test(n!));
  return [...new Set(names)];
}

const secondsSince = (t: number): number => Math.round((Date.now() - t) / 100) / 10;

/** `strangler pipeline SERVICE`. */
export function registerPipelineCommand(program: Command): void {
  program
    .command('pipeline <service>')
    .description(
      'the pipeline on one machine, against a running npm start with REDIS_URL: Source → BuildAndTest → Image → Deploy (green beside blue, the gate through preview routing to green, the upstream moved to green, blue drained) → Record → Cutover; exit 0 passed, 1 a stage failed, 2 no stack or store, 3/4 the cutover rolled back/paused, 5 the gate red (blue serving), 130 interrupted',
    )
    .option('--from <stage>', `start at this stage, as a retried stage does (${PIPELINE_STAGES.map((s) => s.name).join(', ')})`)
    .option('--dry-run', 'print the plan with every command, run nothing')
    .option('--gate <command>', `the gate (Deploy's, and the cutover's at every step; default: ${GATE_COMMANDS.join(' && ')})`)
    .option('--gate-timeout <s>', 'how long one run of the gate may take', (v) => Number(v), 1800)
    .option('--tick-ms <ms>', 'how often the cutover looks at the figures', (v) => Number(v), 5000)
    .option('--reason <text>', 'why (kept in the audit; default: the commit deployed)')
    .option('--json', 'also one JSON line per stage result')
    .action(async (service: string, o: Options) => {
      process.exitCode = await runPipeline(service, o);
    });
}

async function runPipeline(service: string, o: Options): Promise<number> {
  const app = BLUE_GREEN_APPS.find((a) => a.name === service);
  if (!app) usage(`no app "${service}" to deploy blue/green: one of ${BLUE_GREEN_APPS.map((a) => a.name).join(', ')}`);
  const stages = stagesFor({ promoted: false, cutover: CUTOVER_APPS.includes(app) });
  const fromIndex = o.from ? stages.findIndex((s) => s.name.toLowerCase() === o.from!.toLowerCase()) : 0;
  if (fromIndex < 0) usage(`--from ${o.from}: no such stage here; one of ${stages.map((s) => s.name).join(', ')}`);
  if (!(o.gateTimeout > 0)) usage('--gate-timeout must be a number of seconds');
  if (!(o.tickMs >= 50)) usage('--tick-ms must be at least 50');
  const gate = o.gate ?? GATE_COMMANDS.join(' && ');
  const entry = commandOf(app).slice(1).join(' ');
  const green = `${service}-green`;

  if (o.dryRun) {
    printPlan(app, stages, fromIndex, gate, entry);
    return PIPELINE_EXIT.passed;
  }
  // Found before any stage runs: one line each, exit 2.
  if (!process.env.STACK_CONTROL_SOCKET || !process.env.PROXY_URL)
    usage('no running npm start found (.data/stack.json, or STRANGLER_STACK_FILE, with its control socket): start the stack first');
  const stack = await control('GET', '/processes').catch(() => undefined);
  if (!stack || stack.status !== 200)
    usage(`the stack does not answer on its control socket (${process.env.STACK_CONTROL_SOCKET}): is npm start still running?`);
  const target = await (storeOf({}) ??
    usage('the stack has no shared route table: start npm start with REDIS_URL set (the pipeline moves upstreams in the store)'));
  if (process.env.ADMIN_TOKEN === undefined) usage('no ADMIN_TOKEN: the gate reaches green through preview routing, which needs it');

  const commit = sourceOf();
  const reason = o.reason ?? `pipeline: ${service} at ${commit.short}${commit.dirty ? ' (uncommitted changes)' : ''}`;
  const actor = defaultActor();
  const results: StageResult[] = [];
  let exit: number = PIPELINE_EXIT.passed;
  // Ctrl-C: the stage in progress ends its own way (a gate stopped is a red gate, undone; the
  // cutover rolls back by itself), and no further stage starts.
  let interrupted = false;
  const onInterrupt = (): void => {
    if (!interrupted) console.log('interrupted: the stage in progress is undone, no further stage starts');
    interrupted = true;
  };
  process.on('SIGINT', onInterrupt);
  try {
    for (const [i, stage] of stages.entries()) {
      if (interrupted && exit === PIPELINE_EXIT.passed) exit = PIPELINE_EXIT.interrupted;
      if (i < fromIndex) {
        results.push({ name: stage.name, status: 'skipped', note: `--from ${stages[fromIndex]!.name}` });
        continue;
      }
      if (exit !== PIPELINE_EXIT.passed) {
        results.push({ name: stage.name, status: 'not run', note: '' });
        continue;
      }
      console.log(`▶ ${stage.name} — ${stage.does}`);
      const started = Date.now();
      try {
        const note = await runStage(stage.name);
        results.push({ name: stage.name, status: 'passed', seconds: secondsSince(started), note });
        console.log(`✔ ${stage.name} ${secondsSince(started).toFixed(1)} s${note ? ` — ${note}` : ''}`);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        results.push({ name: stage.name, status: 'failed', seconds: secondsSince(started), note: why });
        console.log(`✘ ${stage.name}: ${why}`);
        exit = err instanceof StageFailed ? err.code : PIPELINE_EXIT.failed;
      }
      if (o.json) console.log(JSON.stringify({ stage: results.at(-1) }));
    }
  } finally {
    process.off('SIGINT', onInterrupt);
    target.close();
  }
  if (interrupted && exit === PIPELINE_EXIT.passed) exit = PIPELINE_EXIT.interrupted;
  printSummary(service, results);
  return exit;

  async function runStage(name: StageName): Promise<string> {
    switch (name) {
      case 'Source':
        return `commit ${commit.short}${commit.dirty ? `, with uncommitted changes (${commit.dirty} files): what runs is the working tree` : ''}`;
      case 'BuildAndTest':
        console.log('  install: not run here (CodeBuild’s image setup); the working tree’s node_modules are used');
        for (const command of BUILD_AND_TEST.build) {
          console.log(`  $ ${command}`);
          const code = await sh(command, { APP: app!.folder });
          if (code !== 0) throw new StageFailed(`"${command}" exited ${code}`);
        }
        return `${BUILD_AND_TEST.build.length} commands passed`;
      case 'Image': {
        const blue = await runningProcess(service);
        if (!blue) throw new StageFailed(`the stack runs no ${service}`);
        if (blue.script !== entry)
          throw new StageFailed(
            `the stack runs ${service} from ${blue.script}, not the image’s entry point ${entry}: they must be the same`,
          );
        return `no Docker here: no image is built; its entry point (node ${entry}, APP=${app!.folder} ENTRY=${app!.entry}) is what runs`;
      }
      case 'Approve':
        return 'not here';
      case 'Deploy':
        return deploy();
      case 'Record': {
        const file = path.join(path.dirname(process.env.STACK_CONTROL_SOCKET!), 'deployed.json');
        const current = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
        const blue = await runningProcess(service);
        current[service] = { commit: commit.sha, dirty: commit.dirty > 0, url: blue?.url, at: new Date().toISOString() };
        fs.writeFileSync(file, JSON.stringify(current, null, 2));
        return `${service} runs ${commit.short}${commit.dirty ? ' (with uncommitted changes)' : ''}: written to ${path.relative(process.cwd(), file) || file}`;
      }
      case 'Cutover': {
        const state = groupState((await target.read()).text, service);
        if (state?.mode === 'service') return `group ${service} is already served by ${state.target}: nothing to move`;
        const args = [
          path.join(REPO_ROOT, 'strangler-cli/src/strangler.ts'),
          'cutover',
          service,
          '--resume',
          '--reason',
          reason,
          '--gate',
          gate,
          '--gate-timeout',
          String(o.gateTimeout),
          '--tick-ms',
          String(o.tickMs),
        ];
        console.log(
          `  $ strangler ${args
            .slice(1)
            .map((a) => (/^[\w./:=-]+$/.test(a) ? a : JSON.stringify(a)))
            .join(' ')}`,
        );
        // Its gate reaches the group's target through the local proxy, as the CodeBuild cutover's does through the internal one.
        const code = await run(process.execPath, args, { E2E_BASE_URL: process.env.PROXY_URL! });
        if (code === 0) return `group ${service} served by its service`;
        throw new StageFailed(
          code === 3 ? 'the cutover rolled back (its log above says why)' : code === 4 ? 'the cutover paused' : `cutover exited ${code}`,
          code === 3 || code === 4 ? code : PIPELINE_EXIT.failed,
        );
      }
    }
  }

  /**
   * A green upstream already in the table: another run deploying now (its green process runs), or
   * one that was killed before it could take it out again. Only previews reach that upstream, and a
   * run that moved the service's traffic took it out in the same change, so with no green running
   * it is removed (audited) and this run goes on.
   */
  async function removeLeftoverGreen(from: TableVersion): Promise<TableVersion> {
    const running = await runningProcess(green);
    if (running)
      throw new StageFailed(`another pipeline run of ${service} is deploying: ${green} runs (pid ${running.pid}); wait for it to end`);
    const text = editUpstream(from.text, green, undefined);
    const removed = await target.write(from, text, {
      actor,
      reason: `${reason}: ${green} left by an interrupted run removed`,
      kind: 'push',
      diff: diffLines(diffTables(compileRouteTable(from.text), compileRouteTable(text))),
    });
    console.log(`  ${green}: left in the table by an interrupted run, with no ${green} running: removed (revision ${removed.revision})`);
    return removed;
  }

  /** Green beside blue, the gate through preview routing to green, then the upstream moved to green and blue drained. */
  async function deploy(): Promise<string> {
    let before = await target.read();
    const table = compileRouteTable(before.text);
    if (!table.upstreams.has(service)) throw new StageFailed(`the route table has no upstream "${service}" to move`);
    if (table.upstreams.has(green)) before = await removeLeftoverGreen(before);
    const started = await controlOk<ControlledProcess>('POST', `/processes/${service}/green`);
    console.log(`  green: ${green} on ${started.url} (pid ${started.pid}), beside blue`);
    // The last revision this run wrote: a failure before the promotion writes the table back from it.
    let latest: TableVersion = before;
    const write = async (from: TableVersion, text: string, why: string): Promise<TableVersion> => {
      latest = await target.write(from, text, {
        actor,
        reason: why,
        kind: 'push',
        diff: diffLines(diffTables(compileRouteTable(from.text), compileRouteTable(text))),
      });
      const c = await awaitFleet(target.documents!, latest.revision!, 10_000);
      if (!c.converged)
        throw new StageFailed(
          `not every proxy took revision ${latest.revision} within 10 s: ${c.stragglers.map((p) => p.id).join(', ') || 'no proxy reports to the store'}`,
        );
      return latest;
    };
    try {
      // The gate reaches green through the proxies: green must be an upstream of the table they serve.
      const shown = await write(before, editUpstream(before.text, green, started.url!), `${reason}: ${green} added for its gate`);
      const preview = service === table.defaultUpstream ? green : `group:${service}=${green}`;
      console.log(`  gate: ${gate}   (E2E_BASE_URL=${process.env.PROXY_URL} E2E_PREVIEW=${preview})`);
      const g = await runGate(gate, { E2E_BASE_URL: process.env.PROXY_URL!, E2E_PREVIEW: preview }, o.gateTimeout * 1000);
      if (!g.ok) {
        const failed = failedTests(g.output);
        console.log(g.output.trimEnd().replace(/^/gm, '  │ '));
        throw new StageFailed(
          `the gate failed${failed.length ? `: ${failed.join('; ')}` : ` (${g.detail})`}; green stopped, blue serves on, the table as it was`,
          PIPELINE_EXIT.gateFailed,
        );
      }
      console.log('  gate passed');
      const moved = editUpstream(editUpstream(shown.text, service, started.url!), green, undefined);
      await write(shown, moved, `${reason}: ${service} moved to green (${started.url})`);
    } catch (err) {
      // Back as it was: the table's text before this run (the revision moves on, the routing does not),
      // or, when someone changed it meanwhile, theirs without green; then green stopped.
      let undone = '';
      if (latest !== before) {
        const now = await target.read();
        const back =
          now.revision === latest.revision
            ? before.text
            : editUpstream(editUpstream(now.text, service, table.upstreams.get(service)!.url), green, undefined);
        await write(now, back, `${reason}: ${green} removed, the deployment not made`).catch((e: unknown) => {
          undone = `; the table could not be put back (${(e as Error).message}): remove upstream ${green} and check ${service}'s URL`;
        });
      }
      await control('DELETE', `/processes/${service}/green`).catch(() => {});
      if (undone) throw new StageFailed(`${(err as Error).message}${undone}`, PIPELINE_EXIT.failed);
      throw err;
    }
    // Every proxy now sends the service's traffic to green: blue finishes what it has in flight and stops.
    await controlOk('POST', `/processes/${service}/promote`);
    return `${service} served by green on ${started.url}; blue drained and stopped`;
  }
}

function printPlan(app: DeployedApp, stages: ReturnType<typeof stagesFor>, fromIndex: number, gate: string, entry: string): void {
  const s = app.name;
  const lines: Record<StageName, string[]> = {
    Source: ['git rev-parse HEAD; git status --porcelain   (the working tree’s commit, dirty or not)'],
    BuildAndTest: [
      `install (not run here): ${BUILD_AND_TEST.install.length} commands of CodeBuild’s setup`,
      ...BUILD_AND_TEST.build.map((c) => `APP=${app.folder} ${c}`),
    ],
    Image: [`no Docker here: the image's entry point runs: node ${entry}   (checked against the stack's ${s})`],
    Approve: ['not here'],
    Deploy: [
      `stack: start ${s}-green (node ${entry}, ${s}'s settings, a free port); wait until ready`,
      `table: add upstream ${s}-green (audited compare-and-set), every proxy serving it`,
      `gate: ${gate}   (E2E_BASE_URL=$PROXY_URL E2E_PREVIEW=${app.name === 'monolith' ? `${s}-green` : `group:${s}=${s}-green`} E2E_ADMIN_TOKEN=$ADMIN_TOKEN)`,
      `  red: table back as it was, ${s}-green stopped, exit ${PIPELINE_EXIT.gateFailed}`,
      `table: upstream ${s} → green's URL, ${s}-green removed (audited compare-and-set); every proxy serving it`,
      `stack: blue ${s} drained and stopped, green takes its place`,
    ],
    Record: [`the commit written to deployed.json beside stack.json`],
    Cutover: [`strangler cutover ${s} --resume --reason "…" --gate "${gate}"   (skipped when ${s} is already in service mode)`],
  };
  console.log(`pipeline for ${s} (the stages of @strangler/infra/pipeline-stages, as the CDK pipeline has them):`);
  for (const [i, st] of stages.entries()) {
    console.log(`${i < fromIndex ? '–' : '▶'} ${st.name} — ${st.does}${i < fromIndex ? '   (skipped: --from)' : ''}`);
    for (const l of lines[st.name]) console.log(`    ${l}`);
  }
}

function printSummary(service: string, results: StageResult[]): void {
  const mark = { passed: '✔', failed: '✘', skipped: '–', 'not run': '·' } as const;
  console.log(`\npipeline ${service}:`);
  const width = Math.max(...results.map((r) => r.name.length));
  for (const r of results)
    console.log(
      `  ${mark[r.status]} ${r.name.padEnd(width)}  ${r.status.padEnd(7)}  ${r.seconds === undefined ? '      ' : `${r.seconds.toFixed(1).padStart(5)} s`}  ${r.note}`,
    );
}

/** The commit the working tree is at, and how many files differ from it. */
function sourceOf(): { sha: string; short: string; dirty: number } {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\n').filter(Boolean).length;
    return { sha, short: sha.slice(0, 12), dirty };
  } catch {
    return { sha: 'unknown', short: 'unknown (not a git checkout)', dirty: 0 };
  }
}

const sh = (command: string, env: Record<string, string>): Promise<number> => run('sh', ['-c', command], env);

/** A command from the repository root, its output passed through. */
function run(file: string, args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
