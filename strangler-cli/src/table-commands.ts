import readline from 'node:readline/promises';
import type { Command } from 'commander';
import {
  awaitFleet,
  compileRouteTable,
  convergence,
  DEFAULT_STORE_PREFIX,
  defaultActor,
  diffLines,
  diffTables,
  editGroup,
  fileTarget,
  groupState,
  MODES,
  RouteTableError,
  StaleRevisionError,
  storeTarget,
  TableChangedError,
  type AuditRecord,
  type GroupState,
  type Mode,
  type RouteTable,
  type TableTarget,
  type TableVersion,
} from '@strangler/proxy';
import { usage } from './usage.ts';

interface TargetOptions {
  routes?: string;
  store?: string;
  storePrefix?: string;
}

function withTargetOptions(cmd: Command): Command {
  return cmd
    .option('--store <url>', 'the fleet’s shared route table in Redis (default: ROUTES_STORE_URL)')
    .option('--store-prefix <prefix>', 'its key prefix (default: ROUTES_STORE_PREFIX or strangler:routes)')
    .option('--routes <file>', 'a route table file, for a single proxy (default: ROUTES_FILE; the store wins when both are set)');
}

/** The shared store named by the flags or the environment, if any. */
export function storeOf(o: { store?: string; storePrefix?: string }): Promise<TableTarget> | undefined {
  const url = o.store ?? process.env.ROUTES_STORE_URL;
  return url ? storeTarget(url, o.storePrefix ?? (process.env.ROUTES_STORE_PREFIX || DEFAULT_STORE_PREFIX)) : undefined;
}

/** The shared store when one is named, else the file. */
async function openTarget(o: TargetOptions): Promise<TableTarget> {
  const store = storeOf(o);
  if (store) return store;
  const file = o.routes ?? process.env.ROUTES_FILE;
  if (file) return fileTarget(file);
  usage('give --store URL (or ROUTES_STORE_URL) for a fleet’s shared table, or --routes FILE (or ROUTES_FILE) for one proxy’s');
}

function needsStore(target: TableTarget, what: string): NonNullable<TableTarget['documents']> {
  if (!target.documents)
    usage(`${what} needs the shared store (--store or ROUTES_STORE_URL): a file keeps no audit; its history is your version control`);
  return target.documents;
}

/** The side that writes a group's rows in a mode: the service only when it serves everything. */
const writerOf = (mode: Mode): 'service' | 'monolith' => (mode === 'service' ? 'service' : 'monolith');

function printChanges(before: RouteTable, after: RouteTable): string[] {
  const lines = diffLines(diffTables(before, after));
  if (!lines.length) console.log('no request changes handling');
  for (const l of lines) console.log(`  ${l}`);
  return lines;
}

/** Asks on a terminal; without one, `--yes` is the only way to apply. */
async function confirm(question: string, yes: boolean | undefined): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) usage('no terminal to ask on: give --yes to apply the change');
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

function compileOrExit(text: string, where: string): RouteTable {
  try {
    return compileRouteTable(text);
  } catch (err) {
    if (!(err instanceof RouteTableError)) throw err;
    console.error(`${where}: not a valid route table:\n${err.message}`);
    process.exit(1);
  }
}

/**
 * Applies `next` (computed from `from`) after showing its diff and asking; a change made meanwhile
 * by someone else refuses it (exit 1). Tells how the fleet took it, when the target is the store.
 */
async function apply(
  target: TableTarget,
  from: TableVersion,
  next: string,
  about: { reason: string; kind: AuditRecord['kind']; group?: string; actor?: string },
  yes: boolean | undefined,
): Promise<void> {
  const before = compileOrExit(from.text, target.where);
  const after = compileOrExit(next, 'the changed table');
  const diff = printChanges(before, after);
  if (!(await confirm(`apply to ${target.where}?`, yes))) {
    console.log('nothing changed');
    return;
  }
  let written: TableVersion;
  try {
    written = await target.write(from, next, {
      actor: about.actor ?? defaultActor(),
      reason: about.reason,
      kind: about.kind,
      diff,
      ...(about.group ? { group: about.group } : {}),
    });
  } catch (err) {
    if (!(err instanceof StaleRevisionError || err instanceof TableChangedError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
  if (written.revision === undefined) return console.log(`written: ${target.where} (table ${written.hash}); the proxy reloads it`);
  console.log(`revision ${from.revision} → ${written.revision} (table ${written.hash})`);
  const c = await awaitFleet(target.documents!, written.revision, 5000);
  if (c.converged) console.log(`every proxy (${c.fleet.length}) serves revision ${written.revision}`);
  else
    console.log(
      `not every proxy serves it yet: ${c.stragglers.map((p) => `${p.id} (revision ${p.revision}${p.stale ? ', stale' : ''})`).join(', ') || 'no proxy reports to the store'}; \`strangler status\` shows the fleet`,
    );
}

/** `strangler flip|rollback|history|status` and `strangler routes push`. */
export function registerTableCommands(program: Command, routes: Command): void {
  withTargetOptions(program.command('flip <group>'))
    .description(
      'move a route group to monolith, shadow, canary (with --weight) or service: the diff shown, asked, applied from the table it was computed on',
    )
    .requiredOption('--to <mode>', MODES.join('|'))
    .option('--weight <percent>', 'with --to canary: the percentage of users sent to the target (0–100)', (v) => Number(v))
    .requiredOption('--reason <text>', 'why: kept in the audit')
    .option('--actor <name>', 'who: kept in the audit (default: user@host)')
    .option('--yes', 'apply without asking (scripts, pipelines)')
    .action(async (group: string, o: TargetOptions & { to: string; weight?: number; reason: string; actor?: string; yes?: boolean }) => {
      if (!(MODES as readonly string[]).includes(o.to)) usage(`--to must be one of ${MODES.join(', ')}, not "${o.to}"`);
      const mode = o.to as Mode;
      if (mode === 'canary' && o.weight === undefined) usage('--to canary needs --weight: the percentage of users sent to the target');
      if (mode !== 'canary' && o.weight !== undefined) usage('--weight goes with --to canary only');
      if (o.weight !== undefined && !(o.weight >= 0 && o.weight <= 100)) usage('--weight must be a number from 0 to 100');
      if (!o.reason.trim()) usage('--reason must say why (it is kept in the audit)');
      const target = await openTarget(o);
      try {
        const from = await target.read();
        const state = groupState(from.text, group) ?? usage(`${target.where} has no group "${group}"`);
        const table = compileOrExit(from.text, target.where);
        if (table.takesWrites(group) && writerOf(state.mode) !== writerOf(mode)) {
          const to = writerOf(mode);
          console.error(
            `refused: group ${group} takes writes, and ${state.mode} → ${mode} would move who writes its rows to the ${to}. ` +
              `Move the data with it: strangler data switch ${group} --to ${to} --reason "…" (it freezes the group's writes, drains, switches the writer and flips the group).`,
          );
          process.exit(1);
        }
        const next = editGroup(from.text, group, { mode, weight: mode === 'canary' ? o.weight : undefined });
        console.log(`${group}: ${describe(state)} → ${mode}${mode === 'canary' ? ` ${o.weight} %` : ''}`);
        await apply(target, from, next, { reason: o.reason, kind: 'flip', group, ...(o.actor ? { actor: o.actor } : {}) }, o.yes);
      } finally {
        target.close();
      }
    });

  withTargetOptions(program.command('rollback <group>'))
    .description(
      'put a group back as it was before its last change (a change of its own, audited); the data writer is not moved: use data switch for that',
    )
    .requiredOption('--reason <text>', 'why: kept in the audit')
    .option('--actor <name>', 'who (default: user@host)')
    .option('--yes', 'apply without asking')
    .action(async (group: string, o: TargetOptions & { reason: string; actor?: string; yes?: boolean }) => {
      const target = await openTarget(o);
      try {
        const docs = needsStore(target, 'rollback');
        const [last] = await docs.history({ group, limit: 1 });
        if (!last) usage(`the audit holds no change of group ${group}: nothing to roll back`);
        const previous = await docs.textAt(last.from.revision);
        const was = previous === undefined ? undefined : groupState(previous, group);
        if (!was)
          usage(`revision ${last.from.revision} (before the last change of ${group}) is not in the store, or had no group ${group}`);
        const from = await target.read();
        const now = groupState(from.text, group) ?? usage(`${target.where} has no group "${group}" any more`);
        const table = compileOrExit(from.text, target.where);
        if (table.takesWrites(group) && writerOf(now.mode) !== writerOf(was.mode)) {
          console.error(
            `refused: group ${group} takes writes, and rolling back ${now.mode} → ${was.mode} would move who writes its rows. ` +
              `Use: strangler data switch ${group} --to ${writerOf(was.mode)} --reason "…"`,
          );
          process.exit(1);
        }
        console.log(
          `${group}: ${describe(now)} → ${describe(was)} (as at revision ${last.from.revision}, before ${last.kind} by ${last.actor}: ${last.reason})`,
        );
        const next = editGroup(from.text, group, { mode: was.mode, target: was.target, weight: was.weight, frozen: was.frozen });
        await apply(target, from, next, { reason: o.reason, kind: 'rollback', group, ...(o.actor ? { actor: o.actor } : {}) }, o.yes);
      } finally {
        target.close();
      }
    });

  withTargetOptions(program.command('history [group]'))
    .description('the audit of the shared table: who changed what, when and why, newest first')
    .option('--limit <n>', 'how many changes', (v) => Number(v), 20)
    .option('--json', 'print JSON')
    .action(async (group: string | undefined, o: TargetOptions & { limit: number; json?: boolean }) => {
      const target = await openTarget(o);
      try {
        const records = await needsStore(target, 'history').history({ limit: o.limit, ...(group ? { group } : {}) });
        if (o.json) return console.log(JSON.stringify(records, null, 2));
        if (!records.length) return console.log(group ? `no change of group ${group}` : 'no change yet');
        for (const r of records) {
          console.log(`#${r.revision} ${r.at} ${r.kind}${r.group ? ` ${r.group}` : ''} by ${r.actor}: ${r.reason}`);
          for (const d of r.diff) console.log(`    ${d}`);
        }
      } finally {
        target.close();
      }
    });

  withTargetOptions(program.command('status'))
    .description('the fleet: the store’s revision, and the revision each proxy serves; exit 0 when all serve it, 1 naming the stragglers')
    .option('--json', 'print JSON')
    .action(async (o: TargetOptions & { json?: boolean }) => {
      const target = await openTarget(o);
      try {
        const docs = needsStore(target, 'status');
        const doc = await target.read();
        const c = convergence(await docs.fleet(), doc.revision!);
        if (o.json) console.log(JSON.stringify({ revision: doc.revision, hash: doc.hash, ...c }, null, 2));
        else {
          console.log(`${target.where}: revision ${doc.revision} (table ${doc.hash})`);
          for (const p of c.fleet)
            console.log(
              `  ${p.id.padEnd(36)} revision ${String(p.revision).padStart(4)}${p.stale ? '  STALE' : ''}${c.stragglers.includes(p) ? '  behind' : ''}  (reported ${p.at})`,
            );
          console.log(
            c.converged
              ? `converged: ${c.fleet.length} proxies serve revision ${doc.revision}`
              : `not converged: ${c.stragglers.length} of ${c.fleet.length} behind`,
          );
        }
        process.exitCode = c.converged ? 0 : 1;
      } finally {
        target.close();
      }
    });

  routes
    .command('push <file>')
    .description('put a whole table into the shared store (the first one, or a replacement), from the revision it is now')
    .option('--store <url>', 'the shared store (default: ROUTES_STORE_URL)')
    .option('--store-prefix <prefix>', 'its key prefix (default: ROUTES_STORE_PREFIX or strangler:routes)')
    .requiredOption('--reason <text>', 'why: kept in the audit')
    .option('--yes', 'apply without asking')
    .action(async (file: string, o: { store?: string; storePrefix?: string; reason: string; yes?: boolean }) => {
      const target = await (storeOf(o) ?? usage('give --store URL or set ROUTES_STORE_URL'));
      try {
        const { readFile } = await import('node:fs/promises');
        const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) =>
          usage(`${file}: cannot read it (${err.code ?? err.message})`),
        );
        const docs = target.documents!;
        const current = await docs.read();
        const from: TableVersion = current
          ? { text: current.text, hash: current.hash, revision: current.revision }
          : { text, hash: '', revision: 0 };
        await apply(target, from, text, { reason: o.reason, kind: current ? 'push' : 'seed' }, o.yes);
      } finally {
        target.close();
      }
    });
}

const describe = (s: GroupState): string =>
  `${s.mode}${s.mode === 'canary' && s.weight !== undefined ? ` ${s.weight} %` : ''}${s.frozen ? ' (frozen)' : ''}`;
