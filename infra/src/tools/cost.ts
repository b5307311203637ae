// `npm run cost`: the monthly estimate of each environment, read from the synthesized templates and
// priced from a versioned table (infra/pricing/us-east-1.json: every price with its source and the
// date it was checked) under stated, overridable usage assumptions (infra/pricing/assumptions.json).
// A resource type the table neither prices nor lists as free is reported as unpriced, never skipped.
import fs from 'node:fs';
import path from 'node:path';
import { POLL_SECONDS } from '../test-gate/hook-handler.ts';
import { Command } from 'commander';
import { DEFAULT_ASSEMBLY, Environment, environmentsOf, PLAN, readAssembly, replaceBetweenMarkers, type Located } from './templates.ts';

const PRICING_DIR = path.resolve(import.meta.dirname, '../../pricing');

export interface Price {
  usd: number;
  unit: string;
  source: string;
  checked: string;
  uncertain?: string;
}

export interface PriceTable {
  version: string;
  region: string;
  currency: string;
  note: string;
  prices: Record<string, Price>;
  /** Resource types with no charge of their own, and why. */
  free: Record<string, string>;
}

export interface Assumptions {
  hoursPerMonth: number;
  /** Average tasks per ECS service name (default: its desired count). */
  tasks: Record<string, number>;
  /** Average load balancer capacity units, by scheme. */
  albLcu: Record<string, number>;
  natGbPerMonth: number;
  endpointGbPerMonth: number;
  transferOutGbPerMonth: number;
  logsGbPerMonth: number;
  ecrGbPerRepository: number;
  s3GbPerBucket: number;
  secretsCallsPerMonth: number;
  metricsPerService: number;
  pushesPerMonthPerPipeline: number;
  /** Minutes per run of a CodeBuild project, by the part of its name that says what it does. */
  buildMinutes: Record<string, number>;
  sourceMinutes: number;
  deployMinutes: number;
  lambdaSecondsPerInvocation: number;
}

export interface CostLine {
  category: string;
  /** `Stack/LogicalId`, or a label for what is not a resource (traffic). */
  resource: string;
  type: string;
  quantity: string;
  usd: number;
  /** The prices it used (keys of the table). */
  prices: string[];
}

export interface Estimate {
  environment: string;
  lines: CostLine[];
  /** Resource types found that the table neither prices nor lists as free: type → count. */
  unpriced: Record<string, number>;
  /** Types priced as free, with the count found. */
  free: Record<string, number>;
  total: number;
  assumptions: Assumptions;
}

export const readPriceTable = (file = path.join(PRICING_DIR, 'us-east-1.json')): PriceTable =>
  JSON.parse(fs.readFileSync(file, 'utf8')) as PriceTable;

/** The assumptions of an environment: the file's, then `--assumptions` files, then `--set` overrides (`env.path=value` or `path=value`). */
export function readAssumptions(env: string, opts: { files?: string[]; sets?: string[] } = {}): Assumptions {
  const layers = [path.join(PRICING_DIR, 'assumptions.json'), ...(opts.files ?? [])].map(
    (f) => JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>,
  );
  const merged: Record<string, unknown> = {};
  const merge = (into: Record<string, unknown>, from: Record<string, unknown>): void => {
    for (const [k, v] of Object.entries(from)) {
      if (v && typeof v === 'object' && !Array.isArray(v)) merge((into[k] ??= {}) as Record<string, unknown>, v as Record<string, unknown>);
      else into[k] = v;
    }
  };
  for (const layer of layers) if (layer[env]) merge(merged, layer[env] as Record<string, unknown>);
  if (!Object.keys(merged).length)
    throw new Error(`no assumptions for environment "${env}" in ${path.join(PRICING_DIR, 'assumptions.json')}`);
  for (const set of opts.sets ?? []) {
    const eq = set.indexOf('=');
    if (eq < 0) throw new Error(`--set ${set}: expected path=value, e.g. prod.natGbPerMonth=500`);
    let keys = set.slice(0, eq).split('.');
    if (['dev', 'prod'].includes(keys[0]!)) {
      if (keys[0] !== env) continue;
      keys = keys.slice(1);
    }
    const value = Number(set.slice(eq + 1));
    if (!Number.isFinite(value) || value < 0) throw new Error(`--set ${set}: the value must be a number ≥ 0`);
    let at = merged;
    for (const k of keys.slice(0, -1)) {
      if (typeof at[k] !== 'object') throw new Error(`--set ${set}: "${k}" is not a group of assumptions`);
      at = at[k] as Record<string, unknown>;
    }
    const last = keys.at(-1)!;
    if (!(last in at) && keys.length === 1)
      throw new Error(`--set ${set}: unknown assumption "${last}" (known: ${Object.keys(merged).join(', ')})`);
    at[last] = value;
  }
  return merged as unknown as Assumptions;
}

const round = (usd: number): number => Math.round(usd * 100) / 100;

/** The estimate of one environment. */
export function estimate(env: Environment, table: PriceTable, a: Assumptions): Estimate {
  const lines: CostLine[] = [];
  const unpriced: Record<string, number> = {};
  const free: Record<string, number> = {};
  const price = (key: string): number => {
    const p = table.prices[key];
    if (!p) throw new Error(`price "${key}" missing from the price table ${table.version}`);
    return p.usd;
  };
  const add = (l: Located | string, category: string, quantity: string, parts: [string, number][]): void => {
    const usd = parts.reduce((sum, [key, amount]) => sum + amount * price(key), 0);
    lines.push({
      category,
      resource: typeof l === 'string' ? l : `${l.stack.replace(/^Strangler-[^-]+-/, '')}/${l.id}`,
      type: typeof l === 'string' ? '-' : l.resource.Type,
      quantity,
      usd: round(usd),
      prices: parts.map(([k]) => k),
    });
  };
  const h = a.hoursPerMonth;
  const services = env.all('AWS::ECS::Service');
  const gateRuns = a.pushesPerMonthPerPipeline; // each push deploys each of its services once, through its gate
  const interfaceEndpoints = env.all('AWS::EC2::VPCEndpoint').filter((e) => e.resource.Properties?.VpcEndpointType === 'Interface');
  const nats = env.all('AWS::EC2::NatGateway');
  const logGroups = env.all('AWS::Logs::LogGroup');
  const secrets = env.all('AWS::SecretsManager::Secret');
  const hooks = new Set(
    services.flatMap((s) =>
      (s.resource.Properties?.DeploymentConfiguration?.LifecycleHooks ?? []).flatMap((hk: { HookTargetArn: unknown }) =>
        env.refsIn(hk.HookTargetArn, s.stack).map((f) => f.id),
      ),
    ),
  );

  for (const l of env.all()) {
    const p = l.resource.Properties ?? {};
    switch (l.resource.Type) {
      case 'AWS::ECS::Service': {
        const task = env.refsIn(p.TaskDefinition, l.stack)[0]!.resource.Properties!;
        const vcpu = Number(task.Cpu) / 1024;
        const gb = Number(task.Memory) / 1024;
        if (task.RuntimePlatform?.CpuArchitecture !== 'ARM64') throw new Error(`${l.id}: only ARM64 Fargate is in the price table`);
        const tasks = a.tasks[p.ServiceName] ?? p.DesiredCount ?? 1;
        // The capacity provider strategy: `base` tasks on the first provider, the rest by weight.
        const strategy: { CapacityProvider: string; Base?: number; Weight?: number }[] = p.CapacityProviderStrategy ?? [
          { CapacityProvider: 'FARGATE', Weight: 1 },
        ];
        const base = Math.min(
          tasks,
          strategy.reduce((s, x) => s + (x.Base ?? 0), 0),
        );
        const weights = strategy.reduce((s, x) => s + (x.Weight ?? 0), 0) || 1;
        const spotShare = strategy.filter((x) => x.CapacityProvider === 'FARGATE_SPOT').reduce((s, x) => s + (x.Weight ?? 0), 0) / weights;
        const spot = (tasks - base) * spotShare;
        const onDemand = tasks - spot;
        const discount = price('fargate.spot.discount');
        const hours = (n: number): number => n * h;
        add(
          l,
          'Compute (Fargate)',
          `${p.ServiceName}: ${tasks} × ${vcpu} vCPU / ${gb} GB (${+onDemand.toFixed(2)} on-demand, ${+spot.toFixed(2)} Spot)`,
          [
            ['fargate.arm.vcpuHour', hours(onDemand + spot * (1 - discount)) * vcpu],
            ['fargate.arm.gbHour', hours(onDemand + spot * (1 - discount)) * gb],
          ],
        );
        break;
      }
      case 'AWS::ECS::Cluster': {
        const insights = (p.ClusterSettings ?? []).some(
          (s: { Name: string; Value: string }) => s.Name === 'containerInsights' && s.Value !== 'disabled',
        );
        const count = services.filter((s) => env.refsIn(s.resource.Properties?.Cluster, s.stack).some((c) => c.id === l.id)).length;
        if (insights)
          add(l, 'Monitoring', `Container Insights: ${count} services × ${a.metricsPerService} metrics`, [
            ['cloudwatch.metricMonth', count * a.metricsPerService],
          ]);
        else add(l, 'Monitoring', 'cluster (no Container Insights)', []);
        break;
      }
      case 'AWS::ElasticLoadBalancingV2::LoadBalancer': {
        const scheme = p.Scheme ?? 'internet-facing';
        const lcu = a.albLcu[scheme] ?? 1;
        const ips = scheme === 'internet-facing' ? (p.Subnets?.length ?? 2) : 0;
        add(l, 'Load balancing', `${scheme} ALB, ${lcu} LCU average${ips ? `, ${ips} public IPv4` : ''}`, [
          ['alb.hour', h],
          ['alb.lcuHour', lcu * h],
          ['ipv4.hour', ips * h],
        ]);
        break;
      }
      case 'AWS::EC2::NatGateway':
        add(l, 'Network', `NAT gateway, ${+(a.natGbPerMonth / nats.length).toFixed(1)} GB processed`, [
          ['nat.hour', h],
          ['nat.gb', a.natGbPerMonth / nats.length],
        ]);
        break;
      case 'AWS::EC2::EIP':
        add(l, 'Network', 'public IPv4 address (NAT)', [['ipv4.hour', h]]);
        break;
      case 'AWS::EC2::VPCEndpoint': {
        if (p.VpcEndpointType !== 'Interface') {
          add(l, 'Network', 'gateway endpoint (no charge)', []);
          break;
        }
        const azs = p.SubnetIds?.length ?? 1;
        add(l, 'Network', `interface endpoint in ${azs} AZs, ${+(a.endpointGbPerMonth / interfaceEndpoints.length).toFixed(1)} GB`, [
          ['endpoint.azHour', azs * h],
          ['endpoint.gb', a.endpointGbPerMonth / interfaceEndpoints.length],
        ]);
        break;
      }
      case 'AWS::RDS::DBInstance': {
        const key = `rds.${p.Engine}.${p.DBInstanceClass}.hour`;
        if (!table.prices[key]) {
          unpriced[`${l.resource.Type} (${p.DBInstanceClass})`] = (unpriced[`${l.resource.Type} (${p.DBInstanceClass})`] ?? 0) + 1;
          break;
        }
        const copies = p.MultiAZ ? 2 : 1;
        if ((p.StorageType ?? 'gp2') !== 'gp3') throw new Error(`${l.id}: only gp3 storage is in the price table`);
        add(l, 'Databases', `${p.Engine} ${p.DBInstanceClass}${p.MultiAZ ? ' Multi-AZ' : ''}, ${p.AllocatedStorage} GB gp3`, [
          [key, copies * h],
          ['rds.gp3.gbMonth', copies * Number(p.AllocatedStorage)],
        ]);
        break;
      }
      case 'AWS::ElastiCache::ReplicationGroup': {
        const key = `elasticache.${p.CacheNodeType}.hour`;
        if (!table.prices[key]) {
          unpriced[`${l.resource.Type} (${p.CacheNodeType})`] = 1;
          break;
        }
        add(l, 'Databases', `Redis ${p.NumCacheClusters ?? 1} × ${p.CacheNodeType}`, [[key, (p.NumCacheClusters ?? 1) * h]]);
        break;
      }
      case 'AWS::SecretsManager::Secret':
        add(l, 'Secrets', `secret, ${Math.round(a.secretsCallsPerMonth / secrets.length)} calls`, [
          ['secretsmanager.secretMonth', 1],
          ['secretsmanager.per10kCalls', a.secretsCallsPerMonth / secrets.length / 10_000],
        ]);
        break;
      case 'AWS::Logs::LogGroup': {
        const gb = a.logsGbPerMonth / logGroups.length;
        // Stored at steady state: a month's ingest times the months kept.
        const months = (p.RetentionInDays ?? 3650) / 30;
        add(l, 'Monitoring', `logs: ${+gb.toFixed(2)} GB/month kept ${p.RetentionInDays ?? 'forever'} days`, [
          ['logs.ingestGb', gb],
          ['logs.storeGbMonth', gb * months],
        ]);
        break;
      }
      case 'AWS::CloudWatch::Alarm':
        add(l, 'Monitoring', 'alarm', [['cloudwatch.alarmMonth', 1]]);
        break;
      case 'AWS::ECR::Repository':
        add(l, 'Delivery', `${a.ecrGbPerRepository} GB of images`, [['ecr.gbMonth', a.ecrGbPerRepository]]);
        break;
      case 'AWS::S3::Bucket':
        add(l, 'Storage', `${a.s3GbPerBucket} GB`, [['s3.standard.gbMonth', a.s3GbPerBucket]]);
        break;
      case 'AWS::CodePipeline::Pipeline': {
        const stages: { Name: string; Actions: unknown[] }[] = p.Stages ?? [];
        const deploys = stages.at(-1)?.Actions.length ?? 0;
        const minutes = a.sourceMinutes + (a.buildMinutes.BuildAndTest ?? 0) + (a.buildMinutes.Image ?? 0) + deploys * a.deployMinutes;
        add(l, 'Delivery', `${a.pushesPerMonthPerPipeline} runs × ${minutes} action minutes`, [
          ['codepipeline.v2.actionMinute', a.pushesPerMonthPerPipeline * minutes],
        ]);
        break;
      }
      case 'AWS::CodeBuild::Project': {
        const kind = Object.keys(a.buildMinutes).find((k) => l.id.includes(k)) ?? 'default';
        const minutes = a.buildMinutes[kind] ?? 0;
        const arm = p.Environment?.Type === 'ARM_CONTAINER';
        const size = String(p.Environment?.ComputeType ?? '')
          .replace('BUILD_GENERAL1_', '')
          .toLowerCase();
        const key = `codebuild.${arm ? 'arm1' : 'general1'}.${size}.minute`;
        if (!table.prices[key]) {
          unpriced[`${l.resource.Type} (${key})`] = (unpriced[`${l.resource.Type} (${key})`] ?? 0) + 1;
          break;
        }
        const runs = kind === 'GateTests' ? gateRuns : a.pushesPerMonthPerPipeline;
        add(l, 'Delivery', `${runs} builds × ${minutes} min (${arm ? 'ARM' : 'x86'} ${size})`, [[key, runs * minutes]]);
        break;
      }
      case 'AWS::ServiceDiscovery::PrivateDnsNamespace':
        // Cloud Map keeps the namespace's names in a Route 53 private hosted zone of its own.
        add(l, 'Network', 'private DNS namespace (a Route 53 private hosted zone)', [['route53.hostedZoneMonth', 1]]);
        break;
      case 'AWS::ServiceDiscovery::Service': {
        // One registered instance per task of the ECS services that register in it.
        const registering = services.filter((s) =>
          (s.resource.Properties?.ServiceRegistries ?? []).some((r: { RegistryArn: unknown }) =>
            env.refsIn(r.RegistryArn, s.stack).some((x) => x.id === l.id),
          ),
        );
        const instances = registering.reduce(
          (n, s) => n + (a.tasks[s.resource.Properties!.ServiceName] ?? s.resource.Properties!.DesiredCount ?? 1),
          0,
        );
        add(
          l,
          'Network',
          `service discovery: ${instances} registered instance${instances === 1 ? '' : 's'} (${registering.map((s) => s.resource.Properties!.ServiceName).join(', ')})`,
          [['cloudmap.resourceMonth', instances]],
        );
        break;
      }
      case 'AWS::Lambda::Function': {
        // The test-gate hooks run once per deployment, polled while the journeys run; other functions (CDK's helpers) only on stack changes.
        const invocations = hooks.has(l.id) ? gateRuns * (1 + ((a.buildMinutes.GateTests ?? 0) * 60) / POLL_SECONDS) : 0;
        const gbSeconds = invocations * ((p.MemorySize ?? 128) / 1024) * a.lambdaSecondsPerInvocation;
        add(
          l,
          'Delivery',
          hooks.has(l.id) ? `test-gate hook, ${Math.round(invocations)} invocations` : 'helper, runs on stack changes only',
          [
            ['lambda.arm.gbSecond', gbSeconds],
            ['lambda.perMillionRequests', invocations / 1e6],
          ],
        );
        break;
      }
      default:
        if (table.free[l.resource.Type]) free[l.resource.Type] = (free[l.resource.Type] ?? 0) + 1;
        else unpriced[l.resource.Type] = (unpriced[l.resource.Type] ?? 0) + 1;
    }
  }
  add('traffic: data out to the internet', 'Network', `${a.transferOutGbPerMonth} GB`, [['transfer.outGb', a.transferOutGbPerMonth]]);
  return { environment: env.name, lines, unpriced, free, total: round(lines.reduce((s, l) => s + l.usd, 0)), assumptions: a };
}

const usd = (n: number): string => `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** Per category: the sum of its lines. */
export const byCategory = (e: Estimate): Record<string, number> =>
  e.lines.reduce<Record<string, number>>((acc, l) => ({ ...acc, [l.category]: round((acc[l.category] ?? 0) + l.usd) }), {});

/** The prices an estimate used that the table marks uncertain. */
const uncertainUsed = (estimates: Estimate[], table: PriceTable): [string, Price][] =>
  [...new Set(estimates.flatMap((e) => e.lines.flatMap((l) => l.prices)))]
    .filter((k) => table.prices[k]?.uncertain)
    .map((k) => [k, table.prices[k]!]);

/** The text report: every line, per environment, then totals. */
export function formatText(estimates: Estimate[], table: PriceTable): string {
  const out: string[] = [`Monthly estimate, ${table.region} list prices (table ${table.version}), ${table.currency}. ${table.note}`];
  for (const e of estimates) {
    out.push('', `== ${e.environment} ==`);
    const width = Math.max(...e.lines.map((l) => l.resource.length));
    for (const [category] of Object.entries(byCategory(e))) {
      out.push(`  ${category}`);
      for (const l of e.lines.filter((x) => x.category === category)) {
        const flag = l.prices.some((k) => table.prices[k]?.uncertain) ? ' *' : '';
        out.push(`    ${l.resource.padEnd(width)}  ${usd(l.usd).padStart(10)}${flag}  ${l.quantity}`);
      }
      out.push(`    ${'subtotal'.padEnd(width)}  ${usd(byCategory(e)[category]!).padStart(10)}`);
    }
    out.push(
      `  free: ${Object.entries(e.free)
        .map(([t, n]) => `${t} ×${n}`)
        .join(', ')}`,
    );
    out.push(
      `  unpriced: ${
        Object.keys(e.unpriced).length
          ? Object.entries(e.unpriced)
              .map(([t, n]) => `${t} ×${n}`)
              .join(', ')
          : 'none'
      }`,
    );
    out.push(`  TOTAL ${e.environment}: ${usd(e.total)} per month`);
  }
  const uncertain = uncertainUsed(estimates, table);
  if (uncertain.length) out.push('', '* uncertain prices:', ...uncertain.map(([k, p]) => `  ${k}: ${p.uncertain}`));
  return out.join('\n');
}

/** The table migration-plan.md embeds: categories × environments, uncertain prices, assumptions. */
export function formatMarkdown(estimates: Estimate[], table: PriceTable): string {
  const categories = [...new Set(estimates.flatMap((e) => Object.keys(byCategory(e))))];
  const uncertainCategories = new Set(
    estimates.flatMap((e) => e.lines.filter((l) => l.prices.some((k) => table.prices[k]?.uncertain)).map((l) => l.category)),
  );
  const rows = [
    `| Monthly, ${table.currency} (${table.region}, prices ${table.version}) | ${estimates.map((e) => e.environment).join(' | ')} |`,
    `|---|${estimates.map(() => '---:').join('|')}|`,
    ...categories.map(
      (c) => `| ${c}${uncertainCategories.has(c) ? ' *' : ''} | ${estimates.map((e) => usd(byCategory(e)[c] ?? 0)).join(' | ')} |`,
    ),
    `| **Total** | ${estimates.map((e) => `**${usd(e.total)}**`).join(' | ')} |`,
  ];
  const uncertain = uncertainUsed(estimates, table).map(([k, p]) => `- \`${k}\` ($${p.usd} per ${p.unit}): ${p.uncertain}`);
  const keys = ['natGbPerMonth', 'transferOutGbPerMonth', 'logsGbPerMonth', 'pushesPerMonthPerPipeline', 'deployMinutes'] as const;
  const assumptions = [
    `| Assumption | ${estimates.map((e) => e.environment).join(' | ')} |`,
    `|---|${estimates.map(() => '---:').join('|')}|`,
    `| tasks per service | ${estimates.map(() => 'desired count').join(' | ')} |`,
    `| ALB capacity units (public / internal) | ${estimates.map((e) => `${e.assumptions.albLcu['internet-facing']} / ${e.assumptions.albLcu.internal}`).join(' | ')} |`,
    ...keys.map((k) => `| ${k} | ${estimates.map((e) => e.assumptions[k]).join(' | ')} |`),
  ];
  const unpriced = estimates.flatMap((e) => Object.keys(e.unpriced).map((t) => `${e.environment}: ${t}`));
  return [
    ...rows,
    '',
    uncertain.length ? `\\* includes uncertain prices:\n${uncertain.join('\n')}` : '',
    unpriced.length
      ? `\nUnpriced (not in the table): ${unpriced.join(', ')}`
      : '\nEvery resource type is priced or listed as free in the table.',
    '',
    ...assumptions,
    '',
    `Full detail per resource: \`npm run cost\`; override any assumption: \`npm run cost -- --set prod.natGbPerMonth=500\`. Prices: \`infra/pricing/us-east-1.json\` (source and date per price).`,
  ].join('\n');
}

async function main(): Promise<void> {
  const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
  const opts = new Command('cost')
    .description(
      'Estimate the monthly cost of each environment from the synthesized templates (run `npm run synth` first, or use `npm run cost`).',
    )
    .option('--env <name>', 'one environment (repeatable; default: every one synthesized)', collect)
    .option('--assembly <dir>', 'the cloud assembly to read', DEFAULT_ASSEMBLY)
    .option('--prices <file>', 'another price table')
    .option('--assumptions <file>', 'assumptions laid over infra/pricing/assumptions.json (repeatable)', collect)
    .option('--set <path=value>', 'one assumption, e.g. prod.natGbPerMonth=500 or tasks.proxy=6 (repeatable)', collect)
    .option('--json', 'print JSON')
    .option('--markdown', 'print the summary migration-plan.md shows')
    .option('--no-plan', 'leave migration-plan.md as it is')
    .showHelpAfterError()
    .parse()
    .opts<{
      env?: string[];
      assembly: string;
      prices?: string;
      assumptions?: string[];
      set?: string[];
      json?: boolean;
      markdown?: boolean;
      plan: boolean;
    }>();
  const templates = readAssembly(opts.assembly);
  const table = readPriceTable(opts.prices);
  const envs = opts.env ?? environmentsOf(templates);
  const estimates = envs.map((name) =>
    estimate(new Environment(templates, name), table, readAssumptions(name, { files: opts.assumptions ?? [], sets: opts.set ?? [] })),
  );
  if (opts.json) console.log(JSON.stringify({ priceTable: table.version, estimates }, null, 2));
  else if (opts.markdown) console.log(formatMarkdown(estimates, table));
  else console.log(formatText(estimates, table));
  // The plan shows the defaults only: an estimate with overrides is printed, not written down.
  const overridden = opts.set || opts.assumptions || opts.prices || opts.env;
  if (!overridden && opts.plan && fs.existsSync(PLAN)) {
    fs.writeFileSync(PLAN, replaceBetweenMarkers(fs.readFileSync(PLAN, 'utf8'), 'cost', formatMarkdown(estimates, table)));
    console.error(`updated ${path.relative(process.cwd(), PLAN)}`);
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (err) {
    console.error(`cost: ${(err as Error).message}`);
    process.exit(2);
  }
}
