// `npm run bench:services`: do the extracted services answer their routes faster than the monolith?
// One seeded system in processes of their own, as `npm start` runs them (the monolith with the demo
// data, the three services with their rows copied from it, the proxy in front with every measured
// route in shadow mode), on scratch databases of one PostgreSQL (DATABASE_URL, default the local
// server). The same requests (listing search pages with filters and sorts, a listing, a buyer's
// orders and one order, me) go to the monolith directly, to the service directly and through the
// proxy, one at a time, interleaved in every round, so drift of this shared machine hits all three
// alike. Printed: p50/p99 per endpoint and side and the service/monolith ratio; PostgreSQL's own
// time per request on each side (pg_stat_database.active_time, which a backend reports within 10 s
// of going idle, so each endpoint is measured alone and waited for); and the shadow report
// (`strangler report`) of the same run, whose latency columns the proxy measured. Loopback only;
// BENCH_REQUESTS (300) per endpoint and side, BENCH_DB_REQUESTS (200, 0: skip) for the DB time,
// BENCH_MIRROR_PAUSE_MS (15) after each request through the proxy, BENCH_ENDPOINTS to run only some;
// then each endpoint under load (BENCH_CONCURRENCY 8 clients, BENCH_LOAD_SECONDS 3 per side, 0: skip).
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { alignWriter, loadDataMapping, type ServiceData } from '@strangler/data';
import { DATA_MAPPING_FILE, renderRouteTable, SERVICES, type ServiceName } from '@strangler/reference-migration';
import { SESSION_COOKIE } from '@strangler/service-kit';
import { createScratchDatabase, freePort, ProcessGroup, type ScratchDatabase } from '@strangler/stack';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVER = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 60);
const DB_REQUESTS = Number(process.env.BENCH_DB_REQUESTS ?? 200);
// After a request through the proxy, time for its mirrored copy to finish before the next request:
// the copy's latency (the report's service column) is then its own, not a race with the next one.
const MIRROR_PAUSE_MS = Number(process.env.BENCH_MIRROR_PAUSE_MS ?? 15);
// Under load: BENCH_CONCURRENCY clients at once for BENCH_LOAD_SECONDS per endpoint and side (0: skip),
// where a pool too small for the requests in flight shows.
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 3);
/** BENCH_ENDPOINTS=auth-me,listings-search: only those (default: every endpoint). */
const ONLY = process.env.BENCH_ENDPOINTS?.split(',').map((s) => s.trim());
const SESSION_SECRET = 'bench-session-secret-of-32-chars-or-more';
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const BUYER = { email: 'buyer@cacao.example', password: 'cacao-buyer-demo' };
const local = (port: number): string => `http://127.0.0.1:${port}`;

/** One measured endpoint: its shadow route, the service behind it, the paths asked in turn. */
interface Endpoint {
  name: string;
  service: ServiceName;
  match: string;
  paths: string[];
  buyer?: true;
}

function endpoints(orderId: number): Endpoint[] {
  return [
    {
      name: 'listings-search',
      service: 'listings',
      match: '/api/listings',
      paths: [
        '/api/listings?page=3',
        '/api/listings?q=caramel',
        '/api/listings?q=fine%20peru&sort=price_asc',
        '/api/listings?origin=Peru&sort=price_desc&page=2',
        '/api/listings?variety=criollo&sort=harvest_newest',
        '/api/listings?minPrice=1000&maxPrice=2000&inStock=true&sort=title',
        '/api/listings?page=40',
      ],
    },
    {
      name: 'listing-detail',
      service: 'listings',
      match: '/api/listings/:id',
      paths: [7, 42, 133, 250, 359].map((id) => `/api/listings/${id}`),
    },
    {
      name: 'orders-mine',
      service: 'orders',
      match: '/api/orders',
      paths: ['/api/orders', '/api/orders?page=2', '/api/orders?status=placed', '/api/orders?page=3'],
      buyer: true,
    },
    { name: 'order-get', service: 'orders', match: '/api/orders/:id', paths: [`/api/orders/${orderId}`], buyer: true },
    { name: 'auth-me', service: 'auth', match: '/api/auth/me', paths: ['/api/auth/me'], buyer: true },
  ];
}

/** Each endpoint its own shadow route (so the report has its own latency columns), every request mirrored. */
function routeTable(urls: Record<'monolith' | ServiceName, string>, list: Endpoint[]): string {
  const routes = list.map(
    (e) =>
      `  - name: ${e.name}\n    match: { methods: [GET], path: ${e.match} }\n    mode: shadow\n    target: ${e.service}\n    shadow: { sampleRate: 1.0, timeoutMs: 5000 }`,
  );
  const upstreams = Object.entries(urls).map(([name, url]) => `  ${name}: { url: "${url}" }`);
  return `version: 1\nupstreams:\n${upstreams.join('\n')}\nroutes:\n${routes.join('\n')}\ndefault: monolith\n`;
}

const agents = new Map<string, http.Agent>();

/** One GET on a kept-alive connection of its own per origin (and `client`); its status, body and milliseconds to the last byte. */
function get(origin: string, pathAndQuery: string, cookie?: string, client = 0): Promise<{ status: number; body: string; ms: number }> {
  const key = `${origin} ${client}`;
  let agent = agents.get(key);
  if (!agent) agents.set(key, (agent = new http.Agent({ keepAlive: true, maxSockets: 1 })));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(`${origin}${pathAndQuery}`, { agent, headers: cookie ? { cookie } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function login(origin: string): Promise<string> {
  const res = await fetch(`${origin}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(BUYER),
  });
  if (res.status !== 200) throw new Error(`the demo buyer's login answered ${res.status}: ${await res.text()}`);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  if (!cookie) throw new Error('the login set no session cookie');
  return cookie.split(';')[0]!;
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const fmt = (ms: number): string => ms.toFixed(2).padStart(6);

/** PostgreSQL's time executing statements in each database so far, ms (reported by backends within ~10 s of idling). */
async function activeTime(admin: pg.Client, names: string[]): Promise<Map<string, number>> {
  const { rows } = await admin.query<{ datname: string; ms: number }>(
    'SELECT datname, active_time AS ms FROM pg_stat_database WHERE datname = ANY($1)',
    [names],
  );
  return new Map(rows.map((r) => [r.datname, r.ms]));
}

/** Waits until every backend has reported its time: past the 10 s idle report, then until two readings agree. */
async function settledActiveTime(admin: pg.Client, names: string[]): Promise<Map<string, number>> {
  await new Promise((r) => setTimeout(r, 11_000));
  let last = await activeTime(admin, names);
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 1_000));
    const now = await activeTime(admin, names);
    if (names.every((n) => now.get(n) === last.get(n))) return now;
    last = now;
  }
  return last;
}

/** What the run made, undone newest first: at its end, or at Ctrl-C (the scratch databases would stay otherwise). */
const closers: (() => Promise<unknown>)[] = [];
async function cleanUp(): Promise<void> {
  for (const a of agents.values()) a.destroy();
  for (const c of closers.splice(0).reverse()) await c().catch((err: unknown) => console.error(err));
}
let interrupted: Promise<void> | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    console.error(`${signal}: stopping the apps and dropping the scratch databases`);
    interrupted ??= cleanUp().finally(() => process.exit(130));
  });

async function main(): Promise<void> {
  const group = new ProcessGroup({
    log: (line) => console.error(line),
    onUnexpectedExit: (name, code) => {
      console.error(`${name} exited (${code}) during the benchmark`);
      process.exitCode = 1;
    },
  });
  try {
    const dbs: Record<'monolith' | ServiceName | 'strangler', ScratchDatabase> = {} as never;
    for (const name of ['monolith', ...SERVICES, 'strangler'] as const) {
      dbs[name] = await createScratchDatabase(SERVER, `bench_${name}`);
      closers.push(() => dbs[name].drop());
    }
    closers.push(() => group.stop());
    const [proxyPort, adminPort, monolithPort, ...servicePorts] = await Promise.all([0, 1, 2, 3, 4, 5].map(() => freePort()));
    const urls = {
      monolith: local(monolithPort!),
      ...Object.fromEntries(SERVICES.map((s, i) => [s, local(servicePorts[i]!)])),
    } as Record<'monolith' | ServiceName, string>;
    const common = {
      SESSION_SECRET,
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
      LOGIN_THROTTLE_KEY_PREFIX: `bench:${process.pid}:`,
    };
    await group.start({
      name: 'monolith',
      script: path.join(ROOT, 'monolith/src/server.ts'),
      env: {
        ...common,
        DATABASE_URL: dbs.monolith.url,
        PORT: String(monolithPort),
        SEED_WHEN_EMPTY: 'true',
        API_BASE_URL: local(proxyPort!),
      },
      readyUrl: `${urls.monolith}/readyz`,
    });
    for (const [i, s] of SERVICES.entries()) {
      await group.start({
        name: s,
        script: path.join(ROOT, `extracted/${s}/src/server.ts`),
        env: {
          ...common,
          DATABASE_URL: dbs[s].url,
          PORT: String(servicePorts[i]),
          ...(s === 'orders' ? { API_BASE_URL: local(proxyPort!) } : {}),
        },
        readyUrl: `${urls[s]}/readyz`,
      });
    }
    // As `npm start` does: each service's rows copied from the seeded monolith (the writer stays there).
    const mappings = loadDataMapping(DATA_MAPPING_FILE);
    const pool = (url: string): pg.Pool => {
      const p = new pg.Pool({ connectionString: url, max: 2 });
      // Dropping the databases at Ctrl-C ends its connections: not a crash.
      p.on('error', () => {});
      closers.push(() => p.end());
      return p;
    };
    const monolithPool = pool(dbs.monolith.url);
    for (const s of SERVICES) {
      const data: ServiceData = { mapping: mappings.for(s), pools: { monolith: monolithPool, service: pool(dbs[s].url) } };
      await alignWriter(data, renderRouteTable('monolith', urls));
    }
    const { rows } = await monolithPool.query<{ id: number }>(
      `SELECT o.id::int AS id FROM orders o JOIN users u ON u.id = o.buyer_user_id WHERE u.email = $1 ORDER BY o.id LIMIT 1`,
      [BUYER.email],
    );
    const list = endpoints(rows[0]!.id).filter((e) => !ONLY || ONLY.includes(e.name));
    if (!list.length)
      throw new Error(
        `BENCH_ENDPOINTS names none of ${endpoints(0)
          .map((e) => e.name)
          .join(', ')}`,
      );
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'services-bench-'));
    closers.push(async () => fs.rmSync(tmp, { recursive: true, force: true }));
    const routesFile = path.join(tmp, 'routes.yaml');
    fs.writeFileSync(routesFile, routeTable(urls, list));
    await group.start({
      name: 'proxy',
      script: path.join(ROOT, 'strangler-proxy/src/main.ts'),
      env: {
        ROUTES_FILE: routesFile,
        PROXY_PORT: String(proxyPort),
        ADMIN_PORT: String(adminPort),
        ADMIN_TOKEN,
        STRANGLER_DATABASE_URL: dbs.strangler.url,
        SESSION_COOKIE,
        LOG_LEVEL: 'warn',
      },
      readyUrl: `${local(adminPort!)}/__strangler/readyz`,
    });
    const proxy = local(proxyPort!);
    const cookie = await login(urls.monolith);
    const targets = { monolith: urls.monolith, service: '', proxy } as const;
    type Side = keyof typeof targets;
    const sides = Object.keys(targets) as Side[];
    const originOf = (e: Endpoint, side: Side): string => (side === 'service' ? urls[e.service] : targets[side]);

    console.log(
      `services vs monolith; ${REQUESTS} requests per endpoint and side, one at a time, interleaved; ${os.cpus().length} cores shared with whatever else runs (figures are noisy); Node ${process.version}`,
    );
    // The same answer from both sides first: a faster wrong answer proves nothing.
    for (const e of list)
      for (const p of e.paths) {
        const [m, s] = [await get(urls.monolith, p, e.buyer && cookie), await get(urls[e.service], p, e.buyer && cookie)];
        if (m.status !== 200 || m.status !== s.status || m.body !== s.body)
          throw new Error(
            `${p}: the monolith answered ${m.status}, the ${e.service} service ${s.status}${m.body !== s.body ? ', with other bodies' : ''}`,
          );
      }
    for (let i = 0; i < WARMUP; i++)
      for (const e of list) for (const side of sides) await get(originOf(e, side), e.paths[i % e.paths.length]!, e.buyer && cookie);

    // PostgreSQL's time per request, each endpoint alone (the monolith's database serves every route).
    const dbMs = new Map<string, { monolith: number; service: number }>();
    if (DB_REQUESTS > 0) {
      const admin = new pg.Client({ connectionString: SERVER });
      admin.on('error', () => {});
      await admin.connect();
      try {
        const names = [dbs.monolith.name, ...SERVICES.map((s) => dbs[s].name)];
        let before = await settledActiveTime(admin, names);
        for (const e of list) {
          for (let i = 0; i < DB_REQUESTS; i++)
            for (const side of ['monolith', 'service'] as const)
              await get(originOf(e, side), e.paths[i % e.paths.length]!, e.buyer && cookie);
          const after = await settledActiveTime(admin, names);
          const per = (name: string): number => (after.get(name)! - before.get(name)!) / DB_REQUESTS;
          dbMs.set(e.name, { monolith: per(dbs.monolith.name), service: per(dbs[e.service].name) });
          before = after;
        }
      } finally {
        await admin.end();
      }
    }

    const ms: Record<string, Record<Side, number[]>> = Object.fromEntries(
      list.map((e) => [e.name, { monolith: [], service: [], proxy: [] }]),
    );
    let errors = 0;
    for (let i = 0; i < REQUESTS; i++)
      for (const e of list)
        for (let k = 0; k < sides.length; k++) {
          // The order of the three turns every round, so none always goes first.
          const side = sides[(i + k) % sides.length]!;
          const r = await get(originOf(e, side), e.paths[i % e.paths.length]!, e.buyer && cookie);
          if (r.status !== 200) errors++;
          ms[e.name]![side].push(r.ms);
          if (side === 'proxy') await new Promise((resolve) => setTimeout(resolve, MIRROR_PAUSE_MS));
        }

    const head = `${'endpoint'.padEnd(16)}  ${'monolith p50/p99'.padStart(17)}  ${'service p50/p99'.padStart(17)}  ${'service/monolith'.padStart(16)}  ${'via proxy p50/p99'.padStart(17)}  ${'PostgreSQL ms/request m/s'.padStart(26)}`;
    console.log(`\nclient-side latency, ms (127.0.0.1, to the last byte); errors: ${errors}\n${head}`);
    for (const e of list) {
      const q = (side: Side): [number, number] => {
        const sorted = [...ms[e.name]![side]].sort((a, b) => a - b);
        return [quantile(sorted, 0.5), quantile(sorted, 0.99)];
      };
      const [m, s, p] = [q('monolith'), q('service'), q('proxy')];
      const db = dbMs.get(e.name);
      console.log(
        `${e.name.padEnd(16)}  ${fmt(m[0])} / ${fmt(m[1])}  ${fmt(s[0])} / ${fmt(s[1])}  ${(s[0] / m[0]).toFixed(2).padStart(7)} / ${(s[1] / m[1]).toFixed(2).padStart(6)}  ${fmt(p[0])} / ${fmt(p[1])}  ${db ? `${fmt(db.monolith)} / ${fmt(db.service)}`.padStart(26) : 'not measured'.padStart(26)}`,
      );
    }
    console.log(
      'service/monolith: p50 / p99 ratios (below 1: the service is faster); via proxy: the monolith answering through the proxy, every request mirrored to the service',
    );

    if (LOAD_SECONDS > 0) {
      console.log(
        `\nunder load: ${CONCURRENCY} clients at once, ${LOAD_SECONDS} s per endpoint and side, straight to each app (the client shares the cores)\n${'endpoint'.padEnd(16)}  ${'monolith rps p50/p99'.padStart(25)}  ${'service rps p50/p99'.padStart(25)}  ${'rps s/m'.padStart(7)}`,
      );
      for (const e of list) {
        const runs = { monolith: { times: [] as number[], errors: 0 }, service: { times: [] as number[], errors: 0 } };
        // Half-second slices, the two sides taking turns, so a burst of the machine's other work
        // lands on both rather than on one side's whole run.
        for (let slice = 0; slice < LOAD_SECONDS * 2 * 2; slice++) {
          const side = slice % 2 ? 'service' : 'monolith';
          const deadline = performance.now() + 500;
          await Promise.all(
            Array.from({ length: CONCURRENCY }, async (_, client) => {
              for (let i = client + slice; performance.now() < deadline; i++) {
                const r = await get(originOf(e, side), e.paths[i % e.paths.length]!, e.buyer && cookie, client + 1);
                if (r.status !== 200) runs[side].errors++;
                runs[side].times.push(r.ms);
              }
            }),
          );
        }
        const figures = Object.fromEntries(
          (['monolith', 'service'] as const).map((side) => {
            const sorted = runs[side].times.sort((a, b) => a - b);
            const f = {
              rps: sorted.length / LOAD_SECONDS,
              p50: quantile(sorted, 0.5),
              p99: quantile(sorted, 0.99),
              errors: runs[side].errors,
            };
            return [side, f];
          }),
        ) as Record<'monolith' | 'service', { rps: number; p50: number; p99: number; errors: number }>;
        const [m, s] = [figures.monolith!, figures.service!];
        const cell = (f: typeof m): string =>
          `${f.rps.toFixed(0).padStart(6)} ${fmt(f.p50)} / ${fmt(f.p99)}${f.errors ? ` (${f.errors} errors)` : ''}`;
        console.log(`${e.name.padEnd(16)}  ${cell(m).padStart(25)}  ${cell(s).padStart(25)}  ${(s.rps / m.rps).toFixed(2).padStart(7)}`);
      }
    }

    // The proxy writes its shadow results in batches; stopping it writes the last one.
    await new Promise((r) => setTimeout(r, 1_000));
    await group.stop();
    console.log('\nthe shadow report of the same run (`strangler report`), latency as the proxy measured it:');
    console.log(
      execFileSync(
        process.execPath,
        [path.join(ROOT, 'strangler-cli/src/strangler.ts'), 'report', '--db', dbs.strangler.url, '--routes', routesFile, '--since', '1h'],
        {
          encoding: 'utf8',
        },
      ),
    );
  } finally {
    await cleanUp();
  }
}

try {
  await main();
} catch (err) {
  // Requests fail once Ctrl-C has stopped the apps: the clean-up under way ends the run.
  if (!interrupted) throw err;
  await interrupted;
}
