#!/usr/bin/env node
// `strangler`: start the proxy; check, explain and diff route tables; move a service's data (data …); report shadow traffic.
import fs from 'node:fs';
import { Command, Option } from 'commander';
import { compileRouteTable, diffTables, explainRoute, formatProblem, RouteTableError, runProxy, type RouteTable } from '@strangler/proxy';
import { registerDataCommands } from './data-commands.ts';
import { registerReportCommand } from './report-command.ts';
import { registerTableCommands } from './table-commands.ts';
import { registerCutoverCommand } from './cutover-command.ts';
import { registerPipelineCommand } from './pipeline-command.ts';
import { applyStackDefaults } from './stack-defaults.ts';
import { usage } from './usage.ts';

// Before any option's default is read from the environment.
applyStackDefaults();

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
    await runProxy({
      ...(o.routes ? { routesFile: o.routes } : {}),
      ...(o.port !== undefined ? { port: o.port } : {}),
      ...(o.adminPort !== undefined ? { adminPort: o.adminPort } : {}),
    });
  });

const routes = program.command('routes').description('route tables');

routes
  .command('check <file>')
  .description('validate a route table; exit 0 when valid, 1 with each problem and its line')
  .action((file: string) => {
    const table = load(file);
    console.log(
      `${file}: ok — ${table.routes.length} routes, ${table.upstreams.size} upstreams, default ${table.defaultUpstream} (hash ${table.hash})`,
    );
  });

routes
  .command('explain <method> <path>')
  .description('which rule a request hits, where it goes, and why')
  .option('--routes <file>', 'route table', process.env.ROUTES_FILE)
  .option('-H, --header <header...>', 'request header "Name: value" (repeatable)')
  .addOption(new Option('--user <key>', 'user key for canary routes (a session subject or uid)').default('anonymous'))
  .action((method: string, path: string, o: { routes?: string; header?: string[]; user: string }) => {
    if (!o.routes) usage('give --routes FILE or set ROUTES_FILE');
    const headers = Object.fromEntries(
      (o.header ?? []).map((h) => {
        const i = h.indexOf(':');
        if (i < 1) usage(`header "${h}" must look like "Name: value"`);
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

registerTableCommands(program, routes);
registerCutoverCommand(program);
registerPipelineCommand(program);
registerDataCommands(program);
registerReportCommand(program);

try {
  await program.parseAsync();
} catch (err) {
  // A database that cannot be reached or refuses: say so in one line (never the URL: it holds a
  // password), not as a stack trace. Anything else is a bug and keeps its stack.
  const e = err as { severity?: string; code?: string; message?: string };
  if (e.severity === undefined && !/^E[A-Z]+$/.test(e.code ?? '')) throw err;
  console.error(`strangler: a database refused or could not be reached: ${e.message}${e.code ? ` (${e.code})` : ''}`);
  process.exit(1);
}
