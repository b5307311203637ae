import os from 'node:os';
import type { Command } from 'commander';
import {
  backfill,
  BackfillRefusedError,
  closeService as close,
  configuredServices,
  DataMappingError,
  DataUsageError,
  DeadLetterNotFoundError,
  describeChange,
  drain,
  listDeadLetters,
  listFailing,
  loadDataMapping,
  loadMappingFile,
  openService as openServiceData,
  requeueDeadLetters,
  resolveDeadLetter,
  runReplicator,
  showKey,
  switchWriter,
  SWITCH_STEPS,
  syncStatus,
  verify,
  type DataMappings,
  type DeadLetter,
  type FailingChange,
  type ServiceData,
  type Side,
  type SyncStatus,
} from '@strangler/data';
import { ProxyAdminClient } from '@strangler/proxy/admin-client';
import { fileTarget } from '@strangler/proxy/table-target';
import { storeOf } from './table-commands.ts';
import { usage } from './usage.ts';
import { createLogger } from '@strangler/service-kit/logger';

interface DbOptions {
  monolithDb?: string;
  serviceDb?: string;
  mapping?: string;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `fn`'s result, or exit 2 with the message of the usage problem it found. */
function orUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof DataUsageError) usage(err.message);
    throw err;
  }
}

/** The data mapping file named by --mapping or DATA_MAPPING, or exit 2 with its problems. */
const dataMapping = (o: DbOptions): DataMappings => orUsage(() => loadMappingFile(o.mapping ?? process.env.DATA_MAPPING));

/** Both databases of a service, or exit 2 naming what is missing (URLs from flags or the environment, never printed). */
const openService = (service: string, o: DbOptions, mappings: DataMappings = dataMapping(o)): ServiceData =>
  orUsage(() => openServiceData(service, mappings, o));

function withDbOptions(cmd: Command): Command {
  return cmd
    .option('--monolith-db <url>', "the monolith's database (default: MONOLITH_DATABASE_URL)")
    .option(
      '--service-db <url>',
      "the service's database (default: <SERVICE>_DATABASE_URL, e.g. BILLING_DATABASE_URL for a service billing)",
    )
    .option('--mapping <file>', 'the data mapping: the tables each service owns, column by column (default: DATA_MAPPING)');
}

/** `strangler data …`: copy a service's rows, keep both sides in step, switch the writer, check. */
export function registerDataCommands(program: Command): void {
  const data = program
    .command('data')
    .description("a service's rows: copy them from the monolith, keep both sides in step, switch who writes them, verify");

  data
    .command('check-mapping <file>')
    .description('validate a data mapping file; exit 0 when valid, 1 with each problem and its line')
    .action((file: string) => {
      try {
        const m = loadDataMapping(file);
        const tables = m.services.reduce((n, s) => n + m.for(s).tables.length, 0);
        console.log(`${file}: ok — ${plural(m.services.length, 'service')} (${m.services.join(', ')}), ${plural(tables, 'table')}`);
      } catch (err) {
        if (!(err instanceof DataMappingError)) throw err;
        console.error(err.message);
        process.exitCode = 1;
      }
    });

  withDbOptions(data.command('backfill <service>'))
    .description("copy the rows the service owns from the monolith's database; resumable, safe to re-run; installs change capture first")
    .option('--batch <n>', 'rows per batch (one transaction each)', (v) => Number(v), 500)
    .option('--restart', 'forget the checkpoint and copy everything again')
    .action(async (service: string, o: DbOptions & { batch: number; restart?: boolean }) => {
      const d = openService(service, o);
      const tty = process.stdout.isTTY;
      try {
        const result = await backfill(d, {
          batchSize: o.batch,
          restart: o.restart ?? false,
          onProgress: (p) => {
            if (tty) process.stdout.write(`\r${p.table}: ${p.copied}/${p.total} rows`);
          },
        });
        if (tty) process.stdout.write('\n');
        for (const t of result.tables)
          console.log(
            `${t.table}: ${t.copied}/${t.total} rows in ${(t.ms / 1000).toFixed(2)} s (${Math.round(t.copied / (t.ms / 1000 || 1))} rows/s)`,
          );
      } catch (err) {
        if (!(err instanceof BackfillRefusedError)) throw err;
        console.error(err.message);
        process.exitCode = 1;
      } finally {
        await close(d);
      }
    });

  withDbOptions(data.command('verify <service>'))
    .description('row counts and checksums per table on both sides; exit 1 on any difference, naming the keys')
    .action(async (service: string, o: DbOptions) => {
      const d = openService(service, o);
      try {
        const verdicts = await verify(d);
        for (const v of verdicts) {
          console.log(
            `${v.table.padEnd(24)} ${v.equal ? 'equal  ' : 'DIFFERS'}  rows ${v.monolithRows} / ${v.serviceRows}  checksum ${v.monolithChecksum} / ${v.serviceChecksum}`,
          );
          if (v.missingInService.length) console.log(`  missing in the service: ${v.missingInService.join(', ')}`);
          if (v.onlyInService.length) console.log(`  only in the service:    ${v.onlyInService.join(', ')}`);
          if (v.different.length) console.log(`  different rows:         ${v.different.join(', ')}`);
        }
        process.exitCode = verdicts.every((v) => v.equal) ? 0 : 1;
      } finally {
        await close(d);
      }
    });

  withDbOptions(data.command('status [services...]'))
    .description('who writes each service’s rows, what is waiting to be copied (lag), the last switches')
    .option('--json', 'print JSON')
    .action(async (services: string[], o: DbOptions & { json?: boolean }) => {
      const mappings = dataMapping(o);
      const names = services.length ? services : configuredServices(mappings, process.env);
      if (!names.length) usage(`name a service (${mappings.services.join(', ')}) or set MONOLITH_DATABASE_URL and <SERVICE>_DATABASE_URL`);
      const all = names.map((s) => openService(s, o, mappings));
      try {
        const statuses = await Promise.all(all.map(syncStatus));
        if (o.json) console.log(JSON.stringify(statuses, null, 2));
        else for (const s of statuses) printStatus(s);
      } finally {
        await Promise.all(all.map(close));
      }
    });

  withDbOptions(data.command('sync [services...]'))
    .description('keep each service’s two databases in step (the replicator); serves /healthz, /metrics, /status')
    .option('--port <n>', 'port of the health/metrics listener (default: SYNC_PORT or 8082; 0 picks one)', (v) => Number(v))
    .option('--interval <ms>', 'pause between rounds when idle', (v) => Number(v), 100)
    .option(
      '--align-to <routes>',
      "before the first round, while nothing serves the routes yet: backfill each service never backfilled, and make each group's mode in this table its writer",
    )
    .action(async (services: string[], o: DbOptions & { port?: number; interval: number; alignTo?: string }) => {
      try {
        await runReplicator({
          services,
          mappingFile: o.mapping ?? process.env.DATA_MAPPING,
          monolithDb: o.monolithDb,
          serviceDb: o.serviceDb,
          port: o.port ?? Number(process.env.SYNC_PORT || 8082),
          host: process.env.SYNC_HOST || '127.0.0.1',
          intervalMs: o.interval,
          alignTo: o.alignTo,
          log: createLogger('strangler-sync', process.env.LOG_LEVEL || 'info'),
        });
      } catch (err) {
        if (err instanceof DataUsageError) usage(err.message);
        throw err;
      }
    });

  withDbOptions(data.command('dead-letters <service>'))
    .description(
      'changes the other side kept refusing, set aside: list them; --retry ID|--all puts them back and applies them now; --resolve ID --reason drops one handled by hand',
    )
    .option('--retry [id]', 'put the dead letter back into the outbox and apply it now (exit 1 if the other side still refuses it)')
    .option('--all', 'with --retry: every dead letter of the service, parents first')
    .option('--resolve <id>', 'drop the dead letter as handled by hand (needs --reason)')
    .option('--reason <text>', 'why it can be dropped: recorded with who dropped it')
    .option('--actor <name>', 'who: recorded with a retry or resolve (default: the user running it)')
    .option('--json', 'print JSON')
    .action(
      async (
        service: string,
        o: DbOptions & { retry?: string | true; all?: boolean; resolve?: string; reason?: string; actor?: string; json?: boolean },
      ) => {
        const id = (v: string, flag: string): number =>
          /^[1-9]\d{0,14}$/.test(v)
            ? Number(v)
            : usage(`${flag} takes a dead letter's number (as listed by \`strangler data dead-letters ${service}\`), not "${v}"`);
        const retry = o.all && o.retry === undefined ? true : o.retry;
        if (retry !== undefined && o.resolve !== undefined) usage('give --retry or --resolve, not both');
        if (retry === true && !o.all) usage('give --retry ID, or --retry --all for every dead letter');
        if (o.all && typeof retry === 'string') usage('give --retry ID or --retry --all, not both');
        if (o.resolve !== undefined && !o.reason?.trim()) usage('give --reason: why the dead letter can be dropped (recorded with it)');
        const which = typeof retry === 'string' ? id(retry, '--retry') : retry === true ? 'all' : undefined;
        const resolving = o.resolve !== undefined ? id(o.resolve, '--resolve') : undefined;
        const d = openService(service, o);
        const actor = o.actor ?? process.env.USER ?? os.userInfo().username;
        try {
          if (which !== undefined) {
            const retried = await requeueDeadLetters(d, which, actor);
            if (!retried.length) return console.log(`${service}: no dead letters to retry`);
            // Now, not at the replicator's next round: the operator wants to know whether the fix worked.
            await drain(d, { deadline: Date.now() + 30_000 });
            const [failing, dead] = await Promise.all([listFailing(d.pools.service, service), listDeadLetters(d.pools.service, service)]);
            const same = (a: FailingChange) => (b: FailingChange) =>
              a.side === b.side && a.table === b.table && JSON.stringify(a.key) === JSON.stringify(b.key);
            let refused = 0;
            for (const l of retried) {
              const still = failing.find(same(l)) ?? dead.find(same(l));
              if (still) refused++;
              console.log(
                `#${l.id} ${l.table} ${showKey(l.key)} from the ${l.side}: ${still ? `still refused: ${still.code} ${still.message} (back in the outbox: retried, and set aside again if it keeps failing)` : 'applied'}`,
              );
            }
            process.exitCode = refused ? 1 : 0;
            return;
          }
          if (resolving !== undefined) {
            const l = await resolveDeadLetter(d.pools.service, service, resolving, actor, o.reason!.trim());
            return console.log(`resolved #${l.id} (${describeChange(l)}) by ${actor}: ${o.reason!.trim()}`);
          }
          const [deadLetters, failing] = await Promise.all([
            listDeadLetters(d.pools.service, service),
            listFailing(d.pools.service, service),
          ]);
          if (o.json) return console.log(JSON.stringify({ service, deadLetters, failing }, null, 2));
          printDeadLetters(service, deadLetters, failing);
        } catch (err) {
          if (!(err instanceof DeadLetterNotFoundError)) throw err;
          console.error(err.message);
          process.exitCode = 1;
        } finally {
          await close(d);
        }
      },
    );

  withDbOptions(data.command('switch <service>'))
    .description(
      `move the writes of the service's route group to the other side: ${SWITCH_STEPS.join(' → ')}; undone on any failure or Ctrl-C`,
    )
    .requiredOption('--to <side>', 'service or monolith')
    .requiredOption('--reason <text>', 'why: recorded with the switch')
    .option(
      '--store <url>',
      "the fleet's shared route table in Redis (default: ROUTES_STORE_URL); every proxy reporting to it must take each step",
    )
    .option('--store-prefix <prefix>', 'its key prefix (default: ROUTES_STORE_PREFIX or strangler:routes)')
    .option('--routes <file>', 'without a store: the route table file the proxies serve (default: ROUTES_FILE)', process.env.ROUTES_FILE)
    .option('--proxy-admin <url...>', "each proxy's admin URL (default: PROXY_ADMIN_URLS, comma-separated); needed with a file")
    .option('--group <name>', "the route group holding the service's routes (default: the service's name)")
    .option('--actor <name>', 'who: recorded with the switch (default: the user running it)')
    .action(
      async (
        service: string,
        o: DbOptions & {
          to: string;
          reason: string;
          store?: string;
          storePrefix?: string;
          routes?: string;
          proxyAdmin?: string[];
          group?: string;
          actor?: string;
        },
      ) => {
        if (o.to !== 'service' && o.to !== 'monolith') usage('--to must be service or monolith');
        const store = storeOf(o);
        if (!store && !o.routes) usage('give --store URL (or ROUTES_STORE_URL), or --routes FILE (or ROUTES_FILE)');
        const admins =
          o.proxyAdmin ??
          (process.env.PROXY_ADMIN_URLS ?? '')
            .split(',')
            .map((u) => u.trim())
            .filter(Boolean);
        if (!store && !admins.length)
          usage("give each proxy's admin URL with --proxy-admin (or PROXY_ADMIN_URLS): the switch must freeze and reload every proxy");
        if (admins.length && !process.env.ADMIN_TOKEN) usage('set ADMIN_TOKEN: reloading a proxy needs its admin token');
        const d = openService(service, o);
        const routes = store ? await store : fileTarget(o.routes!);
        const abort = new AbortController();
        process.once('SIGINT', () => {
          console.log('\naborting: undoing what was done…');
          abort.abort(new Error('interrupted'));
        });
        try {
          const result = await switchWriter({
            data: d,
            to: o.to as Side,
            routes,
            ...(o.group ? { group: o.group } : {}),
            proxies: admins.map((url) => new ProxyAdminClient(url, process.env.ADMIN_TOKEN)),
            actor: o.actor ?? process.env.USER ?? os.userInfo().username,
            reason: o.reason,
            signal: abort.signal,
            onStep: (step) => console.log(`→ ${step}`),
          });
          for (const s of result.steps)
            console.log(`  ${s.ok ? 'ok  ' : 'FAIL'} ${s.step.padEnd(15)} ${String(s.ms).padStart(6)} ms  ${s.detail ?? ''}`);
          if (result.outcome === 'switched') {
            console.log(
              `switched: the ${result.to} writes the ${service} rows now; writes were frozen for ${result.frozenMs} ms (table ${result.routesHash})`,
            );
          } else {
            console.error(`aborted at ${result.failedStep}: ${result.error}`);
            console.error(
              result.undoErrors.length
                ? 'undo was incomplete; check the route table and `strangler data status`'
                : `undone: the ${result.from} still writes, the route table is as it was`,
            );
            process.exitCode = 1;
          }
        } finally {
          routes.close();
          await close(d);
        }
      },
    );
}

function printStatus(s: SyncStatus): void {
  console.log(`${s.service}: the ${s.writer} writes; lag ${s.lagSeconds.toFixed(3)} s`);
  console.log(`  pending   monolith ${s.pending.monolith.changes}, service ${s.pending.service.changes}`);
  console.log(
    `  applied   ${s.applied} changes${s.strays ? `, ${s.strays} strays (writes on the side that was not the writer)` : ''}; last ${s.lastAppliedAt ?? 'never'}`,
  );
  console.log(`  backfill  ${s.backfilledAt ? `done ${s.backfilledAt}` : 'never run'}`);
  for (const w of s.recentSwitches) {
    console.log(
      `  switch    ${w.finishedAt} ${w.from} → ${w.to} ${w.outcome}${w.failedStep ? ` at ${w.failedStep}` : ''} by ${w.actor}: ${w.reason}${w.frozenMs !== null ? ` (frozen ${w.frozenMs} ms)` : ''}`,
    );
  }
  for (const f of s.failing) console.log(`  refused   ${describeChange(f)} (${f.attempts} attempts since ${f.firstFailedAt}; retried)`);
  if (s.deadLetters.length)
    console.log(
      `  dead      ${s.deadLetters.length} dead letters (no writer switch until each is retried or resolved): see \`strangler data dead-letters ${s.service}\``,
    );
  for (const l of s.deadLetters) console.log(`            #${l.id} ${describeChange(l)}`);
}

function printDeadLetters(service: string, letters: readonly DeadLetter[], failing: readonly FailingChange[]): void {
  console.log(`${service}: ${letters.length ? `${letters.length} dead letter${letters.length === 1 ? '' : 's'}` : 'no dead letters'}`);
  for (const l of letters) {
    console.log(`  #${String(l.id).padEnd(5)} ${describeChange(l)}`);
    console.log(`          ${l.attempts} attempts, refused since ${l.firstFailedAt}, set aside ${l.deadAt}`);
  }
  for (const f of failing) console.log(`  refused ${describeChange(f)} (${f.attempts} attempts; still retried)`);
  if (letters.length) console.log(`fix the row, then --retry ID (or --retry --all); or --resolve ID --reason "…" once handled by hand`);
}
