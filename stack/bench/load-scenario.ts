// The users of `npm run bench:load`: each one a browser with its own connection and cookie jar,
// loading pages as the monolith's scripts do (the page's HTML, then `/api/auth/me`, then the page's
// data), thinking 1–3 s between pages. Most browse anonymously (home, search, filters, pages of
// results, listing detail); a share logs in once — scrypt is CPU-bound by design, so a user logs in
// and then shops with the session, as people do — and places orders with an Idempotency-Key, now and
// then sends the same order again (a retry after a lost answer: replayed, not placed twice), looks at
// its orders and cancels most of them, so stock comes back and long runs do not drain it.
// An error is any answer the scenario does not expect at that step (status, or a replay that was
// not one), and any request that failed or took over 30 s.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SESSION_COOKIE } from '@strangler/service-kit/cookies';
import { DEMO_ACCOUNTS, generateSeedData, SEED_USER_PASSWORD } from '@strangler/monolith';

const REQUEST_TIMEOUT_MS = 30_000;

export interface ScenarioOptions {
  /** The proxy's base URL. */
  url: string;
  users: number;
  /** Seconds measured, after the ramp. */
  seconds: number;
  /** Seconds over which the users start (and whose requests are not counted): default users / 100, at least 3. */
  rampSeconds?: number;
  /** The share of users that log in and order (default 0.1). */
  loginShare?: number;
  /** Think time between two pages, ms (default 1000–3000, uniform). */
  thinkMs?: [number, number];
  /** Called about once a second. */
  onProgress?(p: Progress): void;
}

export interface Progress {
  elapsedS: number;
  measuring: boolean;
  users: number;
  /** Answers in the last second. */
  rps: number;
  /** p99 of the last 5 s, ms. */
  p99Recent: number;
  /** p99 of everything measured so far, ms. */
  p99: number;
  errors: number;
}

export interface EndpointFigures {
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Unexpected answers by status (or `timeout`, `network <code>`, `not-replayed`, `not-cancelled`). */
  errors: Record<string, number>;
}

export interface ScenarioResult {
  users: number;
  loggedIn: number;
  seconds: number;
  rampSeconds: number;
  requests: number;
  rps: number;
  errors: number;
  all: Omit<EndpointFigures, 'errors' | 'requests' | 'rps'>;
  endpoints: Record<string, EndpointFigures>;
  /** The TCP handshakes of the connections opened while measuring (a user's first request includes one). */
  connects: { count: number; p50: number; p99: number; max: number };
  /** What the buyers did, counted on the answers: proof the write path ran. */
  orders: { placed: number; replayed: number; cancelled: number; keys: string[] };
  /** Of the load generator itself, over the measured window. */
  generator: { cpuPercent: number; cpuMicrosPerRequest: number; eventLoopP99Ms: number };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Read for writes only; empty for a GET. */
  body: string;
}

interface Listing {
  id: number;
  supplierId: number;
  stockKg: number;
  minOrderKg: number;
}

const SEARCHES = ['criollo', 'trinitario', 'Peru', 'fine flavour', 'Ghana forastero', 'Ecuador nacional', 'beans harvest', 'Madagascar'];
const FILTERS = [
  'origin=Ecuador',
  'origin=Peru&sort=price_asc',
  'variety=criollo&inStock=true',
  'minPrice=500&maxPrice=1500&sort=price_desc',
  'inStock=true&sort=harvest_newest',
  'sort=title&page=2',
  'page=3',
  'origin=Ghana&variety=forastero',
];

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

/** The seeded buyers (the demo one and every seeded roaster), whose passwords the seed documents. */
function seededBuyers(): { email: string; password: string }[] {
  return generateSeedData()
    .users.filter((u) => u.role === 'buyer')
    .map((u) => ({ email: u.email, password: u.email === DEMO_ACCOUNTS.buyer.email ? DEMO_ACCOUNTS.buyer.password : SEED_USER_PASSWORD }));
}

/** Latencies of one endpoint (ms) and its unexpected answers. */
class Series {
  latencies: number[] = [];
  errors: Record<string, number> = {};
}

class Recorder {
  readonly series = new Map<string, Series>();
  /** Every counted latency, in order, for the progress line. */
  readonly all: number[] = [];
  counting = false;
  errors = 0;
  /** Answers (counted or not) per second since the start, for the progress line. */
  answered = 0;
  /** [time, latency] of the last seconds, for the recent p99. */
  recent: [number, number][] = [];

  /** New connections' TCP handshakes, ms: counted apart, they are no request. */
  readonly connects: number[] = [];

  record(endpoint: string, ms: number, error: string | undefined): void {
    this.answered++;
    const now = performance.now();
    this.recent.push([now, ms]);
    if (!this.counting) return;
    let s = this.series.get(endpoint);
    if (!s) this.series.set(endpoint, (s = new Series()));
    s.latencies.push(ms);
    this.all.push(ms);
    if (error) {
      s.errors[error] = (s.errors[error] ?? 0) + 1;
      this.errors++;
    }
  }
}

function quantiles(values: ArrayLike<number>): { p50: number; p95: number; p99: number; max: number } {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.length ? sorted[sorted.length - 1]! : NaN };
}

class User {
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  session: string | undefined;
  stopped = false;

  readonly base: URL;
  readonly rec: Recorder;

  constructor(base: URL, rec: Recorder) {
    this.base = base;
    this.rec = rec;
  }

  /**
   * One request, timed from when it is handed to the user's connection to the answer's last byte.
   * `expect` is the status the scenario expects; anything else is recorded as an error under its status.
   */
  async send(
    endpoint: string,
    method: string,
    path: string,
    expect: number,
    opts: { body?: unknown; headers?: Record<string, string>; check?: (a: Answer) => string | undefined } = {},
  ): Promise<Answer | undefined> {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = { accept: path.startsWith('/api/') ? 'application/json' : 'text/html', ...opts.headers };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.session) headers.cookie = `${SESSION_COOKIE}=${this.session}`;
    const started = performance.now();
    const answer = await new Promise<Answer | string>((resolve) => {
      const req = http.request(
        { host: this.base.hostname, port: this.base.port, method, path, headers, agent: this.agent, timeout: REQUEST_TIMEOUT_MS },
        (res) => {
          // Only the writes' answers are read (an order's id, a replay's, a cancel's status): a page
          // of listings decoded per GET would be the generator's largest cost and tell nothing.
          const chunks: Buffer[] = [];
          if (method === 'GET') res.resume();
          else res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (err: NodeJS.ErrnoException) => resolve(`network ${err.code ?? err.message}`));
        },
      );
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        const at = performance.now();
        socket.once('connect', () => {
          if (this.rec.counting) this.rec.connects.push(performance.now() - at);
        });
      });
      req.on('timeout', () => {
        req.destroy();
        resolve('timeout');
      });
      // The error's code (ECONNRESET, ECONNREFUSED…) says which side gave up.
      req.on('error', (err: NodeJS.ErrnoException) => resolve(`network ${err.code ?? err.message}`));
      req.end(payload);
    });
    const ms = performance.now() - started;
    if (typeof answer === 'string') {
      this.rec.record(endpoint, ms, answer);
      return undefined;
    }
    this.keepCookie(answer.headers['set-cookie']);
    const wrong = answer.status !== expect ? String(answer.status) : opts.check?.(answer);
    this.rec.record(endpoint, ms, wrong);
    return wrong ? undefined : answer;
  }

  /** The jar holds the one cookie the apps set; a cleared cookie (empty, or expired) empties it. */
  keepCookie(setCookie: string[] | undefined): void {
    for (const c of setCookie ?? []) {
      if (!c.startsWith(`${SESSION_COOKIE}=`)) continue;
      const value = c.slice(SESSION_COOKIE.length + 1).split(';')[0]!;
      this.session = value && !/max-age=0/i.test(c) ? value : undefined;
    }
  }

  /** A page as a browser loads it: the HTML, who is logged in, then what the page's script fetches. */
  async page(name: string, path: string, then?: () => Promise<unknown>): Promise<void> {
    if (!(await this.send(`GET ${name}`, 'GET', path, 200))) return;
    await this.send('GET /api/auth/me', 'GET', '/api/auth/me', this.session ? 200 : 401);
    await then?.();
  }

  close(): void {
    this.stopped = true;
    this.agent.destroy();
  }
}

/** Loads the active listings once, before any user starts: what users open, and what buyers order. */
async function loadListings(base: URL): Promise<Listing[]> {
  const listings: Listing[] = [];
  for (let page = 1; ; page++) {
    const res = await fetch(new URL(`/api/listings?pageSize=100&page=${page}`, base));
    if (res.status !== 200) throw new Error(`GET /api/listings answered ${res.status}: is ${base.origin} the stack's proxy?`);
    const body = (await res.json()) as { items: Listing[]; totalPages: number };
    listings.push(...body.items);
    if (page >= body.totalPages) break;
  }
  if (!listings.length) throw new Error(`${base.origin} has no listings: seed the monolith (npm run seed)`);
  return listings;
}

/** Runs the users for the ramp and the measured seconds, then stops them and returns the figures. */
export async function runScenario(opts: ScenarioOptions): Promise<ScenarioResult> {
  const base = new URL(opts.url);
  const listings = await loadListings(base);
  // An order takes one listing's minimum; only those with room for many orders, so that stock never
  // runs out during a run (the few orders not cancelled keep theirs).
  const orderable = listings.filter((l) => l.stockKg >= 40 * l.minOrderKg);
  if (!orderable.length) throw new Error(`${base.origin} has no listing with stock for 40 orders: reseed it (npm run seed -- --reset)`);
  const buyers = seededBuyers();
  const [thinkMin, thinkMax] = opts.thinkMs ?? [1000, 3000];
  const rampSeconds = opts.rampSeconds ?? Math.max(3, opts.users / 100);
  const loginShare = opts.loginShare ?? 0.1;
  const rec = new Recorder();
  const orders = { placed: 0, replayed: 0, cancelled: 0, keys: [] as string[] };
  const users: User[] = [];
  let stop = false;
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const think = (): Promise<void> => sleep(thinkMin + Math.random() * (thinkMax - thinkMin));

  const browse = async (u: User): Promise<void> => {
    const roll = Math.random();
    if (roll < 0.3) {
      await u.page('/', '/', () => u.send('GET /api/listings', 'GET', '/api/listings', 200));
    } else if (roll < 0.5) {
      const q = encodeURIComponent(pick(SEARCHES));
      await u.page('/?q', `/?q=${q}`, () => u.send('GET /api/listings?q', 'GET', `/api/listings?q=${q}`, 200));
    } else if (roll < 0.65) {
      const f = pick(FILTERS);
      await u.page('/?filters', `/?${f}`, () => u.send('GET /api/listings?filters', 'GET', `/api/listings?${f}`, 200));
    } else if (roll < 0.95) {
      const l = pick(listings);
      await u.page('/listings/:id', `/listings/${l.id}`, () => u.send('GET /api/listings/:id', 'GET', `/api/listings/${l.id}`, 200));
    } else {
      await u.send('GET /api/suppliers/:id', 'GET', `/api/suppliers/${pick(listings).supplierId}`, 200);
    }
  };

  const shop = async (u: User): Promise<void> => {
    const l = pick(orderable);
    await u.page('/listings/:id', `/listings/${l.id}`, () => u.send('GET /api/listings/:id', 'GET', `/api/listings/${l.id}`, 200));
    if (stop) return;
    await think();
    const key = randomUUID();
    const body = { items: [{ listingId: l.id, quantityKg: l.minOrderKg }] };
    const placed = await u.send('POST /api/orders', 'POST', '/api/orders', 201, { body, headers: { 'idempotency-key': key } });
    if (!placed) return;
    const id = (JSON.parse(placed.body) as { order: { id: number } }).order.id;
    orders.placed++;
    orders.keys.push(key);
    if (Math.random() < 0.25) {
      // The same order sent again, as after an answer lost on the way: the first one is answered again.
      const again = await u.send('POST /api/orders (same key)', 'POST', '/api/orders', 201, {
        body,
        headers: { 'idempotency-key': key },
        check: (a) =>
          a.headers['idempotent-replayed'] === 'true' && (JSON.parse(a.body) as { order: { id: number } }).order.id === id
            ? undefined
            : 'not-replayed',
      });
      if (again) orders.replayed++;
    }
    if (stop) return;
    await think();
    await u.page('/orders', '/orders', () => u.send('GET /api/orders', 'GET', '/api/orders?pageSize=100', 200));
    if (stop || Math.random() >= 0.75) return;
    await think();
    const cancelled = await u.send('POST /api/orders/:id/cancel', 'POST', `/api/orders/${id}/cancel`, 200, {
      check: (a) => ((JSON.parse(a.body) as { order: { status: string } }).order.status === 'cancelled' ? undefined : 'not-cancelled'),
    });
    if (cancelled) orders.cancelled++;
  };

  const live = async (u: User, buyer: { email: string; password: string } | undefined, loginAt: number): Promise<void> => {
    // Browsing first, until this user's moment to log in: logins spread evenly over the ramp and the
    // first half of the measured window (so they are measured too), instead of landing together.
    do {
      await browse(u);
      await think();
    } while (!stop && performance.now() < loginAt);
    if (buyer && !stop) {
      await u.page('/login', '/login');
      await think();
      if (stop) return;
      await u.send('POST /api/auth/login', 'POST', '/api/auth/login', 200, { body: buyer });
    }
    while (!stop) {
      await think();
      if (stop) break;
      if (buyer && u.session && Math.random() < 0.4) await shop(u);
      else await browse(u);
    }
  };

  const loggedIn = Math.round(opts.users * loginShare);
  const running: Promise<void>[] = [];
  const t0 = performance.now();
  const eld = monitorEventLoopDelay({ resolution: 5 });
  // Users start evenly over the ramp; which of them log in is spread evenly too.
  for (let i = 0; i < opts.users; i++) {
    const u = new User(base, rec);
    users.push(u);
    const nth = Math.floor((i * loggedIn) / opts.users);
    const buyer = Math.floor(((i + 1) * loggedIn) / opts.users) > nth ? pick(buyers) : undefined;
    const loginAt = t0 + ((nth + 0.5) / Math.max(1, loggedIn)) * (rampSeconds + opts.seconds / 2) * 1000;
    const delay = (i * rampSeconds * 1000) / opts.users;
    running.push(sleep(delay).then(() => live(u, buyer, loginAt)));
  }

  let lastAnswered = 0;
  const progress = setInterval(() => {
    const now = performance.now();
    rec.recent = rec.recent.filter(([t]) => now - t < 5000);
    opts.onProgress?.({
      elapsedS: (now - t0) / 1000,
      measuring: rec.counting,
      users: Math.min(opts.users, Math.ceil(((now - t0) / 1000 / rampSeconds) * opts.users)),
      rps: rec.answered - lastAnswered,
      p99Recent: quantiles(rec.recent.map(([, ms]) => ms)).p99,
      p99: quantiles(rec.all).p99,
      errors: rec.errors,
    });
    lastAnswered = rec.answered;
  }, 1000);

  await sleep(rampSeconds * 1000);
  rec.counting = true;
  eld.enable();
  const cpuAtStart = process.cpuUsage();
  const requestsAtStart = rec.answered;
  const measureStart = performance.now();
  await sleep(opts.seconds * 1000);
  const measured = (performance.now() - measureStart) / 1000;
  rec.counting = false;
  eld.disable();
  const cpu = process.cpuUsage(cpuAtStart);
  const answeredInWindow = rec.answered - requestsAtStart;
  stop = true;
  clearInterval(progress);
  // Requests still under way end on their own (their answers are no longer counted); each user's
  // connection is closed once its last request has ended, so the apps are left with nothing.
  await Promise.race([Promise.all(running), new Promise((r) => setTimeout(r, REQUEST_TIMEOUT_MS + 1000).unref())]);
  for (const u of users) u.close();

  const endpoints: Record<string, EndpointFigures> = {};
  for (const [name, s] of [...rec.series].sort((a, b) => a[0].localeCompare(b[0]))) {
    endpoints[name] = { requests: s.latencies.length, rps: s.latencies.length / measured, ...quantiles(s.latencies), errors: s.errors };
  }
  const cpuMicros = cpu.user + cpu.system;
  return {
    users: opts.users,
    loggedIn,
    seconds: measured,
    rampSeconds,
    requests: rec.all.length,
    rps: rec.all.length / measured,
    errors: rec.errors,
    all: quantiles(rec.all),
    endpoints,
    connects: { count: rec.connects.length, ...quantiles(rec.connects) },
    orders,
    generator: {
      cpuPercent: (cpuMicros / (measured * 1_000_000)) * 100,
      cpuMicrosPerRequest: answeredInWindow ? cpuMicros / answeredInWindow : NaN,
      eventLoopP99Ms: eld.percentile(99) / 1e6,
    },
  };
}
