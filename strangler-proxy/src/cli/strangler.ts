#!/usr/bin/env node
// `strangler`: start the proxy, and check, explain and diff route tables.
import fs from 'node:fs';
import { Command, Option } from 'commander';
import { compileRouteTable } from '../config/compile-route-table.ts';
import { RouteTableError, formatProblem } from '../config/load-route-table.ts';
import { explainRoute } from '../admin/describe-table.ts';
import { diffTables } from '../routing/diff-tables.ts';
import type { RouteTable } from '../routing/route-table.ts';
import pg from 'pg';
import { runProxy } from '../main.ts';
import { backfill } from '../data/backfill.ts';
import { mappingFor } from '../data/table-mapping.ts';
import { verify } from '../data/verify.ts';

/** Reads and compiles a table, or prints every problem as FILE:LINE: … and exits 1. */
function load(file: string): RouteTable {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    console.error(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    process.exit(1);
  }
  try {
    return compileRouteTable(text);
  } catch (err) {
    if (!(err instanceof RouteTableError)) throw err;
    for (const p of err.problems) console.error(`${file}:${p.line ?? '?'}: ${formatProblem({ ...p, line: undefined })}`);
    process.exit(1);
  }
}

const program = new Command('strangler').description('Move a monolith to services one route at a time.').showHelpAfterError();

program
  .command('start')
  .description('run the proxy (settings from the environment; see README)')
  .option('--routes <file>', 'route table (default: ROUTES_FILE)')
  .option('--port <n>', 'public port (default: PROXY_PORT or 8080)', (v) => Number(v))
  .option('--admin-port <n>', 'admin port (default: ADMIN_PORT or 8081)', (v) => Number(v))
  .action(async (o: { routes?: string; port?: number; adminPort?: number }) => {
    await runProxy({ ...(o.routes ? { routesFile: o.routes } : {}), ...(o.port !== undefined ? { port: o.port } : {}), ...(o.adminPort !== undefined ? { adminPort: o.adminPort } : {}) });
  });

const routes = program.command('routes').description('route tables');

routes
  .command('check <file>')
  .description('validate a route table; exit 0 when valid, 1 with each problem and its line')
  .action((file: string) => {
    const table = load(file);
    console.log(`${file}: ok — ${table.routes.length} routes, ${table.upstreams.size} upstreams, default ${table.defaultUpstream} (hash ${table.hash})`);
  });

routes
  .command('explain <method> <path>')
  .description('which rule a request hits, where it goes, and why')
  .option('--routes <file>', 'route table', process.env.ROUTES_FILE)
  .option('-H, --header <header...>', 'request header "Name: value" (repeatable)')
  .addOption(new Option('--user <key>', 'user key for canary routes (a session subject or uid)').default('anonymous'))
  .action((method: string, path: string, o: { routes?: string; header?: string[]; user: string }) => {
    if (!o.routes) {
      console.error('give --routes FILE or set ROUTES_FILE');
      process.exit(2);
    }
    const headers = Object.fromEntries(
      (o.header ?? []).map((h) => {
        const i = h.indexOf(':');
        if (i < 1) {
          console.error(`header "${h}" must look like "Name: value"`);
          process.exit(2);
        }
        return [h.slice(0, i).trim().toLowerCase(), h.slice(i + 1).trim()];
      }),
    );
    const e = explainRoute(load(o.routes), method.toUpperCase(), path, headers, o.user);
    if ('refused' in e) {
      console.log(e.reason);
      process.exit(1);
    }
    console.log(`${e.method} ${e.path}`);
    console.log(`  rule:     ${e.route ? `${e.route.name} (line ${e.route.line}, group ${e.route.group})` : 'none (default)'}`);
    console.log(`  mode:     ${e.mode}`);
    console.log(`  target:   ${e.target}${e.fallback ? ` (falls back to ${e.fallback})` : ''}`);
    console.log(`  why:      ${e.reason}`);
  });

routes
  .command('diff <old> <new>')
  .description('which kinds of request change handling between two tables; exit 0 either way')
  .action((oldFile: string, newFile: string) => {
    const changes = diffTables(load(oldFile), load(newFile));
    if (!changes.length) return console.log('no request changes handling');
    for (const c of changes) {
      console.log(`${c.method.padEnd(7)} ${c.path}${c.conditions.length ? ` [${c.conditions.join(', ')}]` : ''}`);
      console.log(`          ${c.before}\n       →  ${c.after}`);
    }
    console.log(`${changes.length} kind(s) of request change handling`);
  });

const data = program.command('data').description("the rows a service owns: copy them from the monolith, and check both sides agree");

interface DbOptions {
  source?: string;
  target?: string;
}

/** Both pools, or exit 2 naming what is missing; URLs are never printed (they hold passwords). */
function pools(o: DbOptions): { source: pg.Pool; target: pg.Pool } {
  if (!o.source || !o.target) {
    console.error('give --source and --target database URLs (or SOURCE_DATABASE_URL and TARGET_DATABASE_URL)');
    process.exit(2);
  }
  return { source: new pg.Pool({ connectionString: o.source, max: 2 }), target: new pg.Pool({ connectionString: o.target, max: 2 }) };
}

function knownService(service: string) {
  try {
    return mappingFor(service);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
}

data
  .command('backfill <service>')
  .description("copy the rows the service owns from the monolith's database; resumable, safe to re-run")
  .option('--source <url>', "the monolith's database", process.env.SOURCE_DATABASE_URL)
  .option('--target <url>', "the service's database", process.env.TARGET_DATABASE_URL)
  .option('--batch <n>', 'rows per batch (one transaction each)', (v) => Number(v), 500)
  .action(async (service: string, o: DbOptions & { batch: number }) => {
    const mapping = knownService(service);
    const { source, target } = pools(o);
    const tty = process.stdout.isTTY;
    try {
      const result = await backfill(source, target, mapping, {
        batchSize: o.batch,
        onProgress: (p) => {
          if (tty) process.stdout.write(`\r${p.table}: ${p.copied}/${p.total} rows`);
        },
      });
      if (tty) process.stdout.write('\n');
      for (const t of result.tables) console.log(`${t.table}: ${t.copied}/${t.total} rows in ${(t.ms / 1000).toFixed(2)} s (${Math.round(t.copied / (t.ms / 1000 || 1))} rows/s)`);
    } finally {
      await Promise.all([source.end(), target.end()]);
    }
  });

data
  .command('verify <service>')
  .description('row counts and checksums per table on both sides; exit 1 on any difference, naming the keys')
  .option('--source <url>', "the monolith's database", process.env.SOURCE_DATABASE_URL)
  .option('--target <url>', "the service's database", process.env.TARGET_DATABASE_URL)
  .action(async (service: string, o: DbOptions) => {
    const mapping = knownService(service);
    const { source, target } = pools(o);
    try {
      const verdicts = await verify(source, target, mapping);
      for (const v of verdicts) {
        console.log(`${v.table.padEnd(12)} ${v.equal ? 'equal  ' : 'DIFFERS'}  rows ${v.sourceRows} / ${v.targetRows}  checksum ${v.sourceChecksum} / ${v.targetChecksum}`);
        if (v.missingInTarget.length) console.log(`  missing in the service: ${v.missingInTarget.join(', ')}`);
        if (v.extraInTarget.length) console.log(`  only in the service:    ${v.extraInTarget.join(', ')}`);
        if (v.different.length) console.log(`  different rows:         ${v.different.join(', ')}`);
      }
      process.exitCode = verdicts.every((v) => v.equal) ? 0 : 1;
    } finally {
      await Promise.all([source.end(), target.end()]);
    }
  });

await program.parseAsync();
