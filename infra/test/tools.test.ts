// The diagram and the cost estimate, run on templates synthesized here (into a folder of the test's
// own), and the plan that embeds both checked against them: neither can drift from the code.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { environments } from '../src/environments.ts';
import { BLUE_GREEN_APPS, APPS, IMAGES } from '../src/service-catalog.ts';
import { productionPort, testPort } from '../src/stacks/services-stack.ts';
import { byCategory, estimate, formatMarkdown, formatText, readAssumptions, readPriceTable } from '../src/tools/cost.ts';
import { diagram, renderSvg } from '../src/tools/diagram.ts';
import { Environment, PLAN, readAssembly, replaceBetweenMarkers, type CfnTemplate } from '../src/tools/templates.ts';

const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'strangler-cdk-'));
buildApp({ outdir }).app.synth();
const templates = readAssembly(outdir);
const table = readPriceTable();
const ENVS = environments().map((e) => e.name);
afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

const cents = (n: number): number => Math.round(n * 100);

describe('diagram', () => {
  const text = diagram(new Environment(templates, 'prod'));

  it('draws the entry, every service with its listeners, the data stores, the gates and the pipelines', () => {
    expect(text.startsWith('flowchart LR\n')).toBe(true);
    expect(text).toMatch(/users -->\|HTTPS :443, HTTP :80\| PublicAlb/);
    for (const app of APPS) expect(text).toContain(`["${app.name}<br/>`);
    BLUE_GREEN_APPS.forEach((app, i) => {
      expect(text).toMatch(new RegExp(`InternalAlb\\w* -->\\|:${productionPort(i)} production → blue\\| ${app.name}Service`));
      expect(text).toMatch(new RegExp(`InternalAlb\\w* -.->\\|:${testPort(i)} test → green\\| ${app.name}Service`));
      expect(text).toMatch(new RegExp(`${app.name}Service\\w* -.->\\|POST_TEST_TRAFFIC_SHIFT\\| ${app.name}GateTests`));
    });
    expect(text).toContain('RDS postgres 17<br/>db.m7g.large · Multi-AZ');
    expect(text).toContain('ElastiCache redis');
    for (const image of IMAGES)
      expect(text).toContain(`strangler-prod-${image}<br/>Source → BuildAndTest → Image → Approve → Deploy → Record`);
    // Every edge joins two declared nodes (or a tier), so Mermaid draws no stray box.
    const declared = new Set([...text.matchAll(/^\s+(\w+)[[({]/gm)].map((m) => m[1]!).concat(['app', 'users']));
    for (const [, from, to] of text.matchAll(/^ {2}(\w+) [-.=>]+(?:\|[^|]*\|)? (\w+)$/gm)) {
      expect(declared.has(from!), from).toBe(true);
      expect(declared.has(to!), to).toBe(true);
    }
  });

  it('dev differs where the environments do: one NAT, single-AZ database', () => {
    const dev = diagram(new Environment(templates, 'dev'));
    expect(dev).toContain('2 AZs · 1 NAT');
    expect(dev).toContain('single-AZ');
    expect(dev).toContain('HTTP :80| PublicAlb');
  });

  it('renders to SVG in Chromium', async () => {
    const svg = await renderSvg(text);
    expect(svg?.slice(0, 200)).toMatch(/^<svg[^>]+id="architecture"/);
    const words = svg!.replace(/<style>.*?<\/style>/s, '').replace(/<[^>]+>/g, '');
    for (const text of ['auth test gate', 'Public ALB', 'RDS postgres 17', 'strangler-prod-orde'])
      expect(words.includes(text), text).toBe(true);
  }, 60_000);

  it('is what migration-plan.md shows', () => {
    expect(fs.readFileSync(PLAN, 'utf8')).toContain(`\`\`\`mermaid\n${text}\`\`\``);
  });
});

describe('cost', () => {
  const estimates = ENVS.map((env) => estimate(new Environment(templates, env), table, readAssumptions(env)));

  it('prices every resource type or lists it as free: nothing found is left unpriced', () => {
    for (const e of estimates) {
      expect(e.unpriced).toEqual({});
      const types = new Set(new Environment(templates, e.environment).all().map((r) => r.resource.Type));
      const covered = new Set([...e.lines.map((l) => l.type), ...Object.keys(e.free)]);
      expect([...types].filter((t) => !covered.has(t))).toEqual([]);
    }
  });

  it('totals add up: lines to categories to the total, every line a sum of quantity × a price in the table', () => {
    for (const e of estimates) {
      const sum = e.lines.reduce((s, l) => s + cents(l.usd), 0);
      expect(Math.abs(sum - cents(e.total))).toBeLessThanOrEqual(1);
      expect(Math.abs(Object.values(byCategory(e)).reduce((s, c) => s + cents(c), 0) - cents(e.total))).toBeLessThanOrEqual(
        Object.keys(byCategory(e)).length,
      );
      for (const l of e.lines) for (const k of l.prices) expect(table.prices[k], k).toBeDefined();
      expect(e.total).toBeGreaterThan(0);
    }
    const [dev, prod] = estimates;
    // prod is the bigger one: Multi-AZ database, a NAT per AZ, more tasks.
    expect(byCategory(prod!).Databases).toBeGreaterThan(byCategory(dev!).Databases! * 2);
  });

  it('prices from the table by hand where it is simple: the prod database, the NAT gateways', () => {
    const prod = estimates.find((e) => e.environment === 'prod')!;
    const h = prod.assumptions.hoursPerMonth;
    const db = prod.lines.find((l) => l.type === 'AWS::RDS::DBInstance')!;
    expect(db.usd).toBeCloseTo(
      2 * h * table.prices['rds.postgres.db.m7g.large.hour']!.usd + 2 * 100 * table.prices['rds.gp3.gbMonth']!.usd,
      2,
    );
    const nats = prod.lines.filter((l) => l.type === 'AWS::EC2::NatGateway');
    expect(nats).toHaveLength(2);
    expect(nats.reduce((s, l) => s + l.usd, 0)).toBeCloseTo(
      2 * h * table.prices['nat.hour']!.usd + prod.assumptions.natGbPerMonth * table.prices['nat.gb']!.usd,
      1,
    );
  });

  it('an overridden assumption moves the total by exactly its price', () => {
    const base = estimates.find((e) => e.environment === 'prod')!;
    const more = estimate(
      new Environment(templates, 'prod'),
      table,
      readAssumptions('prod', { sets: ['prod.natGbPerMonth=300', 'dev.natGbPerMonth=9999'] }),
    );
    expect(cents(more.total - base.total)).toBe(cents(100 * table.prices['nat.gb']!.usd));
    const proxy = estimate(new Environment(templates, 'prod'), table, readAssumptions('prod', { sets: ['tasks.proxy=6'] }));
    expect(proxy.lines.find((l) => l.quantity.startsWith('proxy: '))!.quantity).toMatch(/^proxy: 6 × 0.5 vCPU \/ 1 GB/);
    expect(proxy.total).toBeGreaterThan(base.total);
  });

  it('refuses an override it cannot apply, saying what to fix', () => {
    expect(() => readAssumptions('prod', { sets: ['natGb=5'] })).toThrow(/unknown assumption "natGb" \(known: .*natGbPerMonth/);
    expect(() => readAssumptions('prod', { sets: ['prod.natGbPerMonth=lots'] })).toThrow(/must be a number/);
    expect(() => readAssumptions('prod', { sets: ['natGbPerMonth'] })).toThrow(/expected path=value/);
    expect(() => readAssumptions('staging')).toThrow(/no assumptions for environment "staging"/);
  });

  it('lists a resource type it does not know as unpriced instead of skipping it', () => {
    const odd: Record<string, CfnTemplate> = {
      'Strangler-x-Odd': { Resources: { Q: { Type: 'AWS::SQS::Queue', Properties: {} }, R: { Type: 'AWS::IAM::Role', Properties: {} } } },
    };
    const e = estimate(new Environment(odd, 'x'), table, readAssumptions('dev'));
    expect(e.unpriced).toEqual({ 'AWS::SQS::Queue': 1 });
    expect(e.free).toEqual({ 'AWS::IAM::Role': 1 });
    expect(formatMarkdown([e], table)).toContain('Unpriced (not in the table): x: AWS::SQS::Queue');
  });

  it('every price in the table has a source and the date it was checked; uncertain ones say why', () => {
    for (const [key, p] of Object.entries(table.prices)) {
      expect(p.usd, key).toBeGreaterThanOrEqual(0);
      expect(p.source, key).toMatch(/^https:\/\/aws\.amazon\.com\//);
      expect(p.checked, key).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      if (p.uncertain !== undefined) expect(p.uncertain.length, key).toBeGreaterThan(20);
    }
    expect(formatText(estimates, table)).toContain('* uncertain prices:');
  });

  it('is what migration-plan.md shows', () => {
    expect(fs.readFileSync(PLAN, 'utf8')).toContain(formatMarkdown(estimates, table));
  });
});

describe('markers', () => {
  it('replaces only what lies between them, and says when they are missing', () => {
    expect(replaceBetweenMarkers('a\n<!-- x:start -->\nold\n<!-- x:end -->\nb', 'x', 'new')).toBe(
      'a\n<!-- x:start -->\nnew\n<!-- x:end -->\nb',
    );
    expect(() => replaceBetweenMarkers('nothing', 'x', 'new')).toThrow('markers <!-- x:start --> … <!-- x:end --> not found');
  });
});
