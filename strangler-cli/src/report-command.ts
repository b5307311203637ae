import fs from 'node:fs';
import type { Command } from 'commander';
import {
  buildReport,
  compileRouteTable,
  DEFAULT_SETTINGS,
  parseSince,
  PostgresShadowStore,
  type RouteReport,
  type RouteSettings,
  type RouteTable,
  type ShadowExample,
} from '@strangler/proxy';
import { withPassword } from '@strangler/service-kit/secret-url';
import { usage } from './usage.ts';

const pct = (r: number): string => `${(r * 100).toFixed(2)} %`;
const clip = (v: unknown, n = 40): string => {
  const s = v === undefined ? '—' : typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
};

/** Each shadowed route's thresholds from the route table, when one is given; the defaults otherwise. */
function settingsFrom(file: string | undefined): (route: string) => RouteSettings {
  if (!file || !fs.existsSync(file)) return () => DEFAULT_SETTINGS;
  return settingsOf(compileRouteTable(fs.readFileSync(file, 'utf8')));
}

/** Each shadowed route's noise thresholds and readiness gate, from a compiled table. */
export function settingsOf(table: RouteTable): (route: string) => RouteSettings {
  return (route) => {
    const shadow = table.routes.find((r) => r.name === route)?.shadow;
    return shadow ? { noise: { relative: shadow.noise.relative, absolute: shadow.noise.absolute }, gate: shadow.gate } : DEFAULT_SETTINGS;
  };
}

/** The terminal table: a line per route, then its top differing fields with one example each. */
export function printReport(routes: readonly RouteReport[], examples: ReadonlyMap<string, ShadowExample[]>, since: string): void {
  if (!routes.length) return void console.log(`no shadow samples since ${since}`);
  const head = ['route', 'samples', 'stale', 'match', 'mismatch*', 'monolith p50/p99', 'service p50/p99', 'errors m/s', 'readiness'];
  const rows = routes.map((r) => [
    r.route,
    String(r.samples),
    String(r.stale),
    pct(r.rawMatchRate),
    pct(r.adjustedMismatchRate),
    `${r.monolith.p50Ms}/${r.monolith.p99Ms} ms`,
    `${r.service.p50Ms}/${r.service.p99Ms} ms`,
    `${pct(r.monolith.errorRate)}/${pct(r.service.errorRate)}`,
    `${r.readiness.score} ${r.readiness.ready ? 'ready' : 'not ready'}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  console.log(
    `match: over all samples; * noise cancelled, stale samples left out (stale: the answers differed while the service's copy of the data was behind or ahead); since ${since}`,
  );
  for (const r of routes) {
    const top = r.fields.filter((f) => f.reported).slice(0, 10);
    const noise = r.fields.filter((f) => !f.reported);
    console.log(
      `\n${r.route}: ${top.length ? 'differing fields' : 'no differing field'}${noise.length ? ` (noise: ${noise.map((f) => f.field).join(', ')})` : ''}`,
    );
    for (const f of top) {
      const e = examples.get(r.route)?.find((x) => x.field === f.field);
      const d = e?.differences.find((x) => x.field === f.field);
      console.log(
        `  ${f.field}  ${f.template}  ${pct(f.diffRate)} of samples (noise ${pct(f.noiseRate)})${d ? `  e.g. ${e!.request.method} ${e!.request.path}: ${clip(d.a)} → ${clip(d.b)}` : ''}`,
      );
    }
  }
}

/** `strangler report [route] [--since 24h] [--json]`: the shadow-diff report of every proxy, from PostgreSQL. */
export function registerReportCommand(program: Command): void {
  program
    .command('report [route]')
    .description(
      'shadow traffic: per route, samples, match and noise-adjusted mismatch rates, both sides’ latency, readiness, the top differing fields with an example each',
    )
    .option('--since <duration>', 'only what happened in the last 30s, 15m, 2h, 7d…', '24h')
    .option('--json', 'print JSON')
    .option(
      '--db <url>',
      'the results database (default: STRANGLER_DATABASE_URL, with STRANGLER_DATABASE_PASSWORD)',
      process.env.STRANGLER_DATABASE_URL && withPassword(process.env.STRANGLER_DATABASE_URL, process.env.STRANGLER_DATABASE_PASSWORD),
    )
    .option(
      '--routes <file>',
      'the route table, for each route’s noise thresholds and gate (default: ROUTES_FILE)',
      process.env.ROUTES_FILE,
    )
    .action(async (route: string | undefined, o: { since: string; json?: boolean; db?: string; routes?: string }) => {
      const sinceMs = parseSince(o.since) ?? usage('--since must look like 30s, 15m, 2h or 7d');
      if (!o.db)
        usage(
          'give --db or set STRANGLER_DATABASE_URL: the database the proxies store shadow results in (a proxy without it keeps them in memory: see its admin page /__strangler/)',
        );
      const store = await PostgresShadowStore.open(o.db);
      try {
        const routes = buildReport(
          await store.counters({ ...(route ? { route } : {}), since: new Date(Date.now() - sinceMs) }),
          settingsFrom(o.routes),
        );
        if (route && !routes.length) {
          console.error(`no shadow samples for route ${route} since ${o.since}`);
          process.exitCode = 1;
          return;
        }
        const examples = new Map<string, ShadowExample[]>();
        for (const r of routes) examples.set(r.route, await store.examples({ route: r.route, limit: 100 }));
        if (o.json)
          console.log(
            JSON.stringify(
              {
                since: o.since,
                routes: routes.map((r) => ({
                  ...r,
                  examples: examples.get(r.route)!.map((e) => ({
                    id: e.id,
                    field: e.field,
                    path: e.request.path,
                    differences: e.differences.filter((d) => d.field === e.field),
                  })),
                })),
              },
              null,
              2,
            ),
          );
        else printReport(routes, examples, o.since);
      } finally {
        await store.close();
      }
    });
}
