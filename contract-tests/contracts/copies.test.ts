import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { format } from 'prettier';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// The services were made by copying the monolith's modules; each copy lives until its route group's
// cutover retires the monolith's side. Until then a fix made on one side only is a bug on the other,
// so each pair must differ only in the ways listed here (and named in the service file's header).

const ROOT = join(import.meta.dirname, '..', '..');
/** The repository's formatter settings, so the check formats as the code is formatted. */
const FORMAT = JSON.parse(readFileSync(join(ROOT, '.prettierrc.json'), 'utf8')) as Record<string, unknown>;
const THIS_FILE = 'contract-tests/contracts/copies.test.ts';

/** One documented difference: `from` (a regex on the monolith's text) rewritten to the service's. */
interface Rule {
  why: string;
  from: RegExp;
  to: string | ((match: string, ...groups: string[]) => string);
}

/** A monolith module file and its copy in a service; `group` is the route group whose cutover retires the monolith's. */
interface Pair {
  group: 'auth' | 'listings' | 'orders';
  monolith: string;
  service: string;
  rules: Rule[];
}

const DRY_RUN = '{ rollback: isDryRun(req) }';

/** The service's writes honour the dry-run header: `isDryRun` imported next to `after`. */
const importsIsDryRun = (after: string): Rule => ({
  why: 'the dry-run wrapping needs isDryRun',
  from: new RegExp(`^(import \\{[^}]*\\b${after}, )`, 'm'),
  to: '$1isDryRun, ',
});

/** A single insert on the pool becomes a transaction rolled back in a dry run. */
const dryRunInsert: Rule = {
  why: 'a write in a dry run keeps nothing',
  from: /await (insert\w+)\(ctx\.db, (.+)\);$/gm,
  to: `await ctx.db.withTransaction((tx) => $1(tx, $2), ${DRY_RUN});`,
};

/** A transaction the monolith already opens is rolled back in a dry run. */
const dryRunTransaction: Rule = {
  why: 'a write in a dry run keeps nothing',
  from: /(ctx\.db\.withTransaction\(async \(tx\) => \{\n[\s\S]*?\n {4}\})\);/g,
  to: `$1, ${DRY_RUN});`,
};

/** The listing create's checks and insert, run in one transaction so that a dry run can roll it back. */
const dryRunListingCreate: Rule = {
  why: 'a create in a dry run keeps nothing; its supplier checks read inside the same transaction',
  from: /^ {4}(let ownerSupplierId: number;\n[\s\S]*?)\n {4}const listing = await insertListing\(ctx\.db, (.*)\);$/m,
  to: (_match, body, args) =>
    [
      '    const listing = await ctx.db.withTransaction(',
      '      async (tx) => {',
      ...`    ${body}`.split('\n').map((line) => `    ${line.replaceAll('ctx.db', 'tx')}`),
      `        return insertListing(tx, ${args});`,
      '      },',
      `      ${DRY_RUN},`,
      '    );',
    ].join('\n'),
};

/** The services' pages: rows and total in one statement (the monolith runs two). */
const oneTripPages: Rule = {
  why: 'a page and its total come back in one round trip',
  from: /\bpagedQuery\b/g,
  to: 'pagedQueryOneTrip',
};

/** Currency: the monolith's comes from its listings module, which the orders service does not have. */
const currencyFromListings = /^import type \{ Currency \} from '\.\.\/listings\/listings\.ts';$/m;

const PAIRS: Pair[] = [
  { group: 'auth', monolith: 'monolith/src/auth/users.ts', service: 'extracted/auth/src/auth/users.ts', rules: [] },
  {
    group: 'auth',
    monolith: 'monolith/src/auth/auth-routes.ts',
    service: 'extracted/auth/src/auth/auth-routes.ts',
    rules: [
      importsIsDryRun('hashPassword'),
      dryRunInsert,
      {
        why: 'a mirrored logout revokes nothing',
        from: /if \(req\.session\) await ctx\.revocations\.revoke\(/,
        to: 'if (req.session && !isDryRun(req)) await ctx.revocations.revoke(',
      },
    ],
  },
  {
    group: 'listings',
    monolith: 'monolith/src/suppliers/suppliers.ts',
    service: 'extracted/listings/src/suppliers/suppliers.ts',
    rules: [oneTripPages],
  },
  {
    group: 'listings',
    monolith: 'monolith/src/suppliers/supplier-routes.ts',
    service: 'extracted/listings/src/suppliers/supplier-routes.ts',
    rules: [importsIsDryRun('ApiError'), dryRunInsert],
  },
  {
    group: 'listings',
    monolith: 'monolith/src/listings/listings.ts',
    service: 'extracted/listings/src/listings/listings.ts',
    rules: [
      oneTripPages,
      {
        why: "the page's columns (JSON, to_char) are built for its rows only, keyed by the listing's id",
        from: /pagedQueryOneTrip<Listing>\(db, \{ /,
        to: "pagedQueryOneTrip<Listing>(db, { key: 'l.id', ",
      },
    ],
  },
  {
    group: 'listings',
    monolith: 'monolith/src/listings/listing-schemas.ts',
    service: 'extracted/listings/src/listings/listing-schemas.ts',
    rules: [],
  },
  {
    group: 'listings',
    monolith: 'monolith/src/listings/listing-routes.ts',
    service: 'extracted/listings/src/listings/listing-routes.ts',
    rules: [importsIsDryRun('ApiError'), dryRunListingCreate, dryRunTransaction],
  },
  {
    group: 'listings',
    monolith: 'monolith/src/reservations/reservations.ts',
    service: 'extracted/listings/src/reservations/reservations.ts',
    rules: [],
  },
  {
    group: 'listings',
    monolith: 'monolith/src/reservations/reservation-routes.ts',
    service: 'extracted/listings/src/reservations/reservation-routes.ts',
    rules: [],
  },
  {
    group: 'orders',
    monolith: 'monolith/src/orders/orders.ts',
    service: 'extracted/orders/src/orders/orders.ts',
    rules: [
      { why: "the service's column is buyer_id (the monolith's is buyer_user_id)", from: /\bbuyer_user_id\b/g, to: 'buyer_id' },
      {
        why: 'the service has no listings module, so it declares Currency itself',
        from: currencyFromListings,
        to: "\nexport type Currency = 'USD' | 'EUR';",
      },
      oneTripPages,
    ],
  },
  {
    group: 'orders',
    monolith: 'monolith/src/orders/order-routes.ts',
    service: 'extracted/orders/src/orders/order-routes.ts',
    rules: [
      {
        why: 'the monolith gives its orders module a pool of its own (it may serve the reservation itself); the service has one pool',
        from: /attempt and replays it\. The connection it holds meanwhile is the orders pool's, never the one\n\s*\/\/ the reservation \(served by this same process when listings are not extracted\) needs\./,
        to: 'attempt and replays it.',
      },
      { why: 'the same: ctx.ordersDb is the service’s ctx.db', from: /\bctx\.ordersDb\b/g, to: 'ctx.db' },
    ],
  },
  {
    group: 'orders',
    monolith: 'monolith/src/orders/stock-client.ts',
    service: 'extracted/orders/src/orders/stock-client.ts',
    rules: [
      {
        why: 'the service has no listings module: Currency comes from orders.ts',
        from: new RegExp(`${currencyFromListings.source}\\nimport type \\{ OrderLine \\} from '\\./orders\\.ts';$`, 'm'),
        to: "import type { Currency, OrderLine } from './orders.ts';",
      },
    ],
  },
];

/**
 * Files at the same path in the monolith and a service that are not copies: each app's own process
 * entry, environment, context and re-exports, written for that app.
 */
const OWN_FILES = new Set(['index.ts', 'config.ts', 'server.ts', 'app-context.ts']);

const SERVICE_HEADER = /^\/\/ Copied from (\S+); the monolith's copy retires with the (\w+) group's cutover\. Differences: (.+)\.$/;
const MONOLITH_HEADER = /^\/\/ Copied to (\S+); this copy retires with the (\w+) group's cutover \(keep the two alike: (\S+)\)\.$/;

const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const withoutHeader = (text: string, header: RegExp): string => {
  const [first, ...rest] = text.split('\n');
  return header.test(first ?? '') ? rest.join('\n') : text;
};

/**
 * The code as the check compares it: formatted by the repository's formatter, but wide enough that
 * every statement stands on one line. The two copies may wrap differently where a documented
 * difference makes a line longer; layout is never a difference, so it is taken out first.
 */
async function normalised(text: string): Promise<string> {
  return format(text, { parser: 'typescript', ...FORMAT, printWidth: 10_000, objectWrap: 'collapse' });
}

/** Why `pair` is no longer a copy beyond its rules (a stale rule, or the first differing lines), or undefined. */
async function copyProblem(pair: Pair, monolithText: string, serviceText: string): Promise<string | undefined> {
  let rewritten = await normalised(withoutHeader(monolithText, MONOLITH_HEADER));
  for (const rule of pair.rules) {
    const global = new RegExp(rule.from.source, rule.from.flags.includes('g') ? rule.from.flags : `${rule.from.flags}g`);
    if (!global.test(rewritten)) {
      return [
        `The rule "${rule.why}" (${rule.from}) no longer matches ${pair.monolith}.`,
        `Either the difference is gone (remove the rule from this pair in ${THIS_FILE} and from the header of ${pair.service}), or the monolith's code moved (update the rule).`,
      ].join('\n');
    }
    // Two calls because replace's string and function forms are separate overloads.
    rewritten = typeof rule.to === 'string' ? rewritten.replace(rule.from, rule.to) : rewritten.replace(rule.from, rule.to);
  }
  const expected = (await normalised(rewritten)).split('\n');
  const actual = (await normalised(withoutHeader(serviceText, SERVICE_HEADER))).split('\n');
  const at = expected.findIndex((line, i) => line !== actual[i]);
  const first = at === -1 ? (expected.length === actual.length ? -1 : expected.length) : at;
  if (first === -1) return undefined;
  const show = (lines: string[]): string =>
    lines
      .slice(first, first + 3)
      .map((line) => `    ${JSON.stringify(line)}`)
      .join('\n') || '    (end of file)';
  return [
    `${pair.service} differs from its original ${pair.monolith} beyond the documented differences,`,
    `first at statement line ${first + 1} of ${pair.service} (formatted one statement a line):`,
    `  the monolith's, rewritten by this pair's rules:`,
    show(expected),
    `  the service's copy:`,
    show(actual),
    `Either bring the two copies back in line (a fix on one side belongs on the other), or document the new difference:`,
    `add a rule (regex on the monolith's text → the service's, with why) to this pair in ${THIS_FILE}, and name it in the Differences of ${pair.service}'s first line.`,
  ].join('\n');
}

/** Every file under `dir`, as paths relative to it. */
const filesUnder = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(join(ROOT, dir), join(e.parentPath, e.name)));

describe('copies between the monolith and the services', () => {
  it.each(PAIRS.map((pair) => [pair.service, pair] as const))(
    'when the monolith’s original of %s is rewritten by its documented rules, then the two are equal line by line',
    async (_name, pair) => {
      const problem = await copyProblem(pair, read(pair.monolith), read(pair.service));
      if (problem !== undefined) expect.fail(problem);
    },
  );

  it('when a copy is read, then its first line names its origin, the group whose cutover retires the original, and its differences; the original names its copy', () => {
    for (const pair of PAIRS) {
      const [serviceFirst = ''] = read(pair.service).split('\n');
      const [monolithFirst = ''] = read(pair.monolith).split('\n');
      const s = SERVICE_HEADER.exec(serviceFirst);
      expect(
        s?.slice(1, 3),
        `${pair.service}: its first line should be "// Copied from ${pair.monolith}; the monolith's copy retires with the ${pair.group} group's cutover. Differences: …."`,
      ).toEqual([pair.monolith, pair.group]);
      expect(s![3] === 'none', `${pair.service}: "Differences: none" exactly when the pair has no rules`).toBe(pair.rules.length === 0);
      const m = MONOLITH_HEADER.exec(monolithFirst);
      expect(m?.slice(1), `${pair.monolith}: its first line should name its copy, the group and this check`).toEqual([
        pair.service,
        pair.group,
        THIS_FILE,
      ]);
    }
  });

  it('when a service file has the path of a monolith file or a copy header, then it is one of the recorded pairs (or the app’s own entry, config, context or re-exports)', () => {
    const recorded = new Set(PAIRS.map((p) => p.service));
    const unrecorded: string[] = [];
    for (const service of readdirSync(join(ROOT, 'extracted'))) {
      const src = `extracted/${service}/src`;
      if (!existsSync(join(ROOT, src))) continue;
      for (const file of filesUnder(src)) {
        const path = `${src}/${file}`;
        if (recorded.has(path) || OWN_FILES.has(file)) continue;
        if (existsSync(join(ROOT, 'monolith/src', file)) || read(path).startsWith('// Copied from ')) unrecorded.push(path);
      }
    }
    const originals = new Set(PAIRS.map((p) => p.monolith));
    for (const file of filesUnder('monolith/src')) {
      const path = `monolith/src/${file}`;
      if (!originals.has(path) && read(path).startsWith('// Copied to ')) unrecorded.push(path);
    }
    expect(unrecorded, `copies not recorded: add each to PAIRS in ${THIS_FILE}, with its rules`).toEqual([]);
  });

  it('when one line of a copy changes beyond its rules, then the check names the file and the line, shows both sides and says how to fix it', async () => {
    const pair = PAIRS.find((p) => p.service.endsWith('listing-routes.ts'))!;
    const changedText = read(pair.service).replace(
      "'Create your supplier profile before listing cacao.'",
      "'Create your supplier profile first.'",
    );
    const problem = await copyProblem(pair, read(pair.monolith), changedText);
    const changed = (await normalised(withoutHeader(changedText, SERVICE_HEADER)))
      .split('\n')
      .findIndex((l) => l.includes('profile first.'));
    expect(problem).toContain(`first at statement line ${changed + 1} of ${pair.service}`);
    expect(problem).toContain('before listing cacao.');
    expect(problem).toContain("profile first.'");
    expect(problem).toContain('Either bring the two copies back in line');
    expect(problem).toContain('document the new difference');
  });

  it('when a line is added at the end of a copy, then the check reports it rather than passing', async () => {
    const pair = PAIRS.find((p) => p.service.endsWith('users.ts'))!;
    const problem = await copyProblem(pair, read(pair.monolith), `${read(pair.service)}export const extra = 1;\n`);
    const lines = (await normalised(withoutHeader(read(pair.service), SERVICE_HEADER))).split('\n').length;
    expect(problem).toContain(`first at statement line ${lines} of ${pair.service}`);
    expect(problem).toContain('export const extra = 1;');
  });

  it('when a documented difference no longer occurs in the monolith, then the check calls its rule stale', async () => {
    const pair = PAIRS.find((p) => p.service.endsWith('orders/orders.ts'))!;
    const problem = await copyProblem(pair, read(pair.monolith).replaceAll('buyer_user_id', 'buyer_id'), read(pair.service));
    expect(problem).toContain('no longer matches monolith/src/orders/orders.ts');
  });
});
