// `npm run diagram`: the architecture as a Mermaid flowchart, read from the synthesized templates
// (never drawn by hand, so it cannot drift from the infrastructure code). Writes
// infra/generated/architecture-<env>.mmd, an SVG beside it when Chromium is there to render it,
// and the diagram into migration-plan.md between its markers.
import fs from 'node:fs';
import path from 'node:path';
import { findChromium, launchChromium } from '@strangler/contract-tests/chromium';
import { Command } from 'commander';
import { DEFAULT_ASSEMBLY, Environment, GENERATED, PLAN, readAssembly, replaceBetweenMarkers, type Located } from './templates.ts';

const nodeId = (l: Located): string => l.id.replace(/[^A-Za-z0-9]/g, '');
const label = (...lines: string[]): string => `"${lines.filter(Boolean).join('<br/>').replace(/"/g, "'")}"`;
const gib = (mib: number): string => `${+(mib / 1024).toFixed(1)} GB`;
/** A string property as written, `Fn::Join` parts concatenated and pseudo parameters by name. */
const flatten = (v: unknown): string => {
  if (typeof v === 'string') return v;
  const o = v as Record<string, unknown> | undefined;
  if (o && Array.isArray(o['Fn::Join'])) return (o['Fn::Join'][1] as unknown[]).map(flatten).join(String(o['Fn::Join'][0]));
  if (o && typeof o.Ref === 'string') return o.Ref.replace(/^AWS::/, '');
  return '?';
};

/** The subnet tier (public, app, data) a resource's subnets belong to. */
function tierOf(env: Environment, l: Located): string | undefined {
  const p = l.resource.Properties ?? {};
  let subnets: unknown = p.Subnets ?? p.NetworkConfiguration?.AwsvpcConfiguration?.Subnets ?? p.VpcConfig?.Subnets;
  if (!subnets && (p.DBSubnetGroupName || p.CacheSubnetGroupName)) {
    const group = env.refsIn(p.DBSubnetGroupName ?? p.CacheSubnetGroupName, l.stack)[0];
    subnets = group?.resource.Properties?.SubnetIds;
  }
  const subnet = env.refsIn(subnets, l.stack).find((s) => s.resource.Type === 'AWS::EC2::Subnet');
  return subnet?.resource.Properties?.Tags?.find((t: { Key: string }) => t.Key === 'aws-cdk:subnet-name')?.Value;
}

/** The Mermaid flowchart of one environment: where traffic enters, what serves it, what it reaches. */
export function diagram(env: Environment): string {
  const lines: string[] = ['flowchart LR'];
  const edges = new Set<string>();
  const tiers: Record<string, string[]> = {};
  const place = (l: Located, text: string): void => {
    const tier = tierOf(env, l) ?? 'outside';
    (tiers[tier] ??= []).push(`    ${nodeId(l)}${text}`);
  };

  const azs = new Set(env.all('AWS::EC2::Subnet').map((s) => s.resource.Properties?.AvailabilityZone)).size;
  const nats = env.all('AWS::EC2::NatGateway').length;
  const endpoints = env
    .all('AWS::EC2::VPCEndpoint')
    .map((e) => flatten(e.resource.Properties?.ServiceName).replace(/^com\.amazonaws\.[^.]+\./, ''));

  // Load balancers and what their listeners forward to (target group → ECS service).
  const services = env.all('AWS::ECS::Service');
  const serviceOfTargetGroup = new Map<string, { service: Located; color: string }>();
  for (const s of services) {
    for (const lb of s.resource.Properties?.LoadBalancers ?? []) {
      for (const tg of env.refsIn(lb.TargetGroupArn, s.stack))
        serviceOfTargetGroup.set(`${tg.stack}/${tg.id}`, { service: s, color: lb.AdvancedConfiguration ? 'blue' : '' });
      for (const tg of env.refsIn(lb.AdvancedConfiguration?.AlternateTargetGroupArn, s.stack))
        serviceOfTargetGroup.set(`${tg.stack}/${tg.id}`, { service: s, color: 'green' });
    }
  }
  const listeners = env.all('AWS::ElasticLoadBalancingV2::Listener');
  const rules = env.all('AWS::ElasticLoadBalancingV2::ListenerRule');
  for (const lb of env.all('AWS::ElasticLoadBalancingV2::LoadBalancer')) {
    const scheme = lb.resource.Properties?.Scheme;
    place(lb, `[${label(scheme === 'internal' ? 'Internal ALB' : 'Public ALB', scheme)}]`);
    if (scheme !== 'internal')
      edges.add(
        `  users -->|${listeners
          .filter((x) => env.refsIn(x.resource.Properties?.LoadBalancerArn, x.stack)[0]?.id === lb.id)
          .map((x) => `${x.resource.Properties?.Protocol} :${x.resource.Properties?.Port}`)
          .join(', ')}| ${nodeId(lb)}`,
      );
  }
  for (const listener of listeners) {
    const lb = env.refsIn(listener.resource.Properties?.LoadBalancerArn, listener.stack)[0]!;
    const port = listener.resource.Properties?.Port;
    const forwards = [
      ...env.refsIn(
        listener.resource.Properties?.DefaultActions?.filter((a: { Type: string }) => a.Type === 'forward'),
        listener.stack,
      ),
      ...rules
        .filter((r) => env.refsIn(r.resource.Properties?.ListenerArn, r.stack)[0]?.id === listener.id)
        .flatMap((r) => env.refsIn(r.resource.Properties?.Actions, r.stack)),
    ].filter((t) => t.resource.Type === 'AWS::ElasticLoadBalancingV2::TargetGroup');
    for (const tg of forwards) {
      const target = serviceOfTargetGroup.get(`${tg.stack}/${tg.id}`);
      if (!target) continue;
      const kind = target.color === 'green' ? `:${port} test → green` : target.color === 'blue' ? `:${port} production → blue` : `:${port}`;
      edges.add(`  ${nodeId(lb)} ${target.color === 'green' ? '-.->' : '-->'}|${kind}| ${nodeId(target.service)}`);
    }
  }

  // The services: size, task counts, deployment; and what their tasks reach.
  const scalable = env.all('AWS::ApplicationAutoScaling::ScalableTarget');
  const reaches = new Map<string, Set<string>>();
  const dataStores = [...env.all('AWS::RDS::DBInstance'), ...env.all('AWS::ElastiCache::ReplicationGroup')];
  for (const s of services) {
    const p = s.resource.Properties ?? {};
    const task = env.refsIn(p.TaskDefinition, s.stack)[0]!;
    const tp = task.resource.Properties ?? {};
    const max = scalable.find((x) => env.refsIn(x.resource.Properties?.ResourceId, x.stack).some((r) => r.id === s.id))?.resource.Properties
      ?.MaxCapacity;
    const arch = tp.RuntimePlatform?.CpuArchitecture ?? '';
    const strategy =
      p.DeploymentConfiguration?.Strategy === 'BLUE_GREEN'
        ? `blue/green, bake ${p.DeploymentConfiguration.BakeTimeInMinutes} min`
        : 'rolling';
    place(
      s,
      `[${label(p.ServiceName, `${p.DesiredCount}${max && max !== p.DesiredCount ? `–${max}` : ''} task${max > 1 || p.DesiredCount > 1 ? 's' : ''} · ${Number(tp.Cpu) / 1024} vCPU / ${gib(Number(tp.Memory))} · ${arch}`, strategy)}]`,
    );
    const reached = new Set<string>();
    const containers = tp.ContainerDefinitions ?? [];
    // Through settings and through parameters holding settings (the proxy's route table).
    const settings = containers.flatMap((c: { Environment?: unknown[]; Secrets?: unknown[] }) => [
      ...(c.Environment ?? []),
      ...(c.Secrets ?? []),
    ]);
    const direct = env.refsIn(settings, task.stack);
    const viaParameters = direct
      .filter((r) => r.resource.Type === 'AWS::SSM::Parameter')
      .flatMap((r) => env.refsIn(r.resource.Properties?.Value, r.stack));
    for (const r of [...direct, ...viaParameters]) {
      const internalLb = r.resource.Type === 'AWS::ElasticLoadBalancingV2::LoadBalancer' && r.resource.Properties?.Scheme === 'internal';
      if (internalLb || dataStores.some((d) => d.id === r.id && d.stack === r.stack)) reached.add(nodeId(r));
    }
    if (containers.some((c: { Secrets?: unknown[] }) => c.Secrets?.length)) reached.add('secrets');
    reaches.set(nodeId(s), reached);
    for (const hook of p.DeploymentConfiguration?.LifecycleHooks ?? []) {
      const fn = env.refsIn(hook.HookTargetArn, s.stack)[0]!;
      const project = env.refsIn(fn.resource.Properties?.Environment, fn.stack).find((r) => r.resource.Type === 'AWS::CodeBuild::Project')!;
      place(project, `{{${label(`${p.ServiceName} test gate`, 'Lambda hook → CodeBuild journeys')}}}`);
      edges.add(`  ${nodeId(s)} -.->|${hook.LifecycleStages.join(', ')}| ${nodeId(project)}`);
      for (const lb of env
        .refsIn(project.resource.Properties?.Source, project.stack)
        .filter((r) => r.resource.Type === 'AWS::ElasticLoadBalancingV2::LoadBalancer')) {
        edges.add(`  ${nodeId(project)} -.->|journeys via the test listener| ${nodeId(lb)}`);
      }
    }
  }
  // A target every service reaches is drawn once, from the tier.
  const everyone = [...reaches.values()].reduce((a, b) => new Set([...a].filter((x) => b.has(x))));
  for (const target of everyone) edges.add(`  app ${target === 'secrets' ? '-.->|secrets at task start|' : '-->'} ${target}`);
  for (const [service, targets] of reaches)
    for (const t of targets)
      if (!everyone.has(t)) edges.add(`  ${service} -->|${t === 'secrets' ? 'secrets' : ''}| ${t}`.replace('-->||', '-->'));

  for (const db of env.all('AWS::RDS::DBInstance')) {
    const p = db.resource.Properties ?? {};
    place(
      db,
      `[(${label(`RDS ${p.Engine} ${p.EngineVersion}`, `${p.DBInstanceClass} · ${p.MultiAZ ? 'Multi-AZ' : 'single-AZ'}`, `${p.AllocatedStorage} GB ${p.StorageType ?? ''} · encrypted`, 'a database per service')})]`,
    );
  }
  for (const redis of env.all('AWS::ElastiCache::ReplicationGroup')) {
    const p = redis.resource.Properties ?? {};
    place(
      redis,
      `[(${label(`ElastiCache ${p.Engine} ${p.EngineVersion}`, `${p.NumCacheClusters} × ${p.CacheNodeType}`, 'TLS · AUTH · encrypted')})]`,
    );
  }

  // Delivery: a pipeline per image, building into ECR and deploying its services.
  const repositories = env.all('AWS::ECR::Repository');
  const serviceByName = new Map(services.map((s) => [s.resource.Properties?.ServiceName as string, s]));
  const delivery: string[] = [`    ecr[${label(`ECR · ${repositories.length} repositories`, 'scan on push · immutable tags')}]`];
  for (const pipeline of env.all('AWS::CodePipeline::Pipeline')) {
    const p = pipeline.resource.Properties ?? {};
    delivery.push(`    ${nodeId(pipeline)}[${label(p.Name, p.Stages.map((st: { Name: string }) => st.Name).join(' → '))}]`);
    edges.add(`  ${nodeId(pipeline)} -->|image| ecr`);
    // The ECS deploy actions, wherever their stage sits (Record follows it; prod approves before it).
    for (const action of p.Stages.flatMap((st: { Actions: { ActionTypeId?: { Provider?: string } }[] }) => st.Actions).filter(
      (a: { ActionTypeId?: { Provider?: string } }) => a.ActionTypeId?.Provider === 'ECS',
    )) {
      const deployed =
        env.refsIn(action.Configuration?.ServiceName, pipeline.stack)[0] ?? serviceByName.get(action.Configuration?.ServiceName);
      if (deployed) edges.add(`  ${nodeId(pipeline)} -.->|deploy| ${nodeId(deployed)}`);
    }
  }

  lines.push('  users[Users]');
  lines.push(`  subgraph vpc[${label(`VPC · ${azs} AZs · ${nats} NAT`, `endpoints: ${endpoints.join(', ')}`)}]`);
  const tierTitles: Record<string, string> = {
    public: 'public subnets',
    app: 'app subnets · ECS Fargate',
    data: 'data subnets (no internet)',
  };
  for (const tier of ['public', 'app', 'data']) {
    if (!tiers[tier]) continue;
    lines.push(`    subgraph ${tier}[${label(tierTitles[tier]!)}]`, ...tiers[tier]!.map((l) => `  ${l}`), '    end');
  }
  lines.push('  end');
  lines.push(`  secrets[${label(`Secrets Manager · ${env.all('AWS::SecretsManager::Secret').length} secrets`)}]`);
  lines.push(`  subgraph delivery[${label('delivery')}]`, ...delivery, ...(tiers.outside ?? []), '  end');
  lines.push(...edges);
  return `${lines.join('\n')}\n`;
}

/** SVG of a Mermaid diagram, rendered by mermaid in Chromium; undefined when either is missing. */
export async function renderSvg(mermaidText: string): Promise<string | undefined> {
  let bundle: string;
  try {
    bundle = path.join(path.dirname(path.dirname(new URL(import.meta.resolve('mermaid')).pathname)), 'dist', 'mermaid.min.js');
  } catch {
    return undefined;
  }
  const chromium = fs.existsSync(bundle) ? await findChromium() : undefined;
  if (!chromium) return undefined;
  const browser = await launchChromium(chromium);
  try {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><html><body></body></html>');
    await page.addScriptTag({ path: bundle });
    return await page.evaluate(async (text) => {
      const m = (
        globalThis as unknown as { mermaid: { initialize(o: object): void; render(id: string, t: string): Promise<{ svg: string }> } }
      ).mermaid;
      m.initialize({ startOnLoad: false, securityLevel: 'strict', look: 'classic', htmlLabels: false, flowchart: { htmlLabels: false } });
      return (await m.render('architecture', text)).svg;
    }, mermaidText);
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  const opts = new Command('diagram')
    .description('Draw the architecture from the synthesized templates (run `npm run synth` first, or use `npm run diagram`).')
    .option('--env <name>', 'the environment drawn', 'prod')
    .option('--assembly <dir>', 'the cloud assembly to read', DEFAULT_ASSEMBLY)
    .option('--no-svg', 'write the Mermaid only')
    .option('--no-plan', 'leave migration-plan.md as it is')
    .showHelpAfterError()
    .parse()
    .opts<{ env: string; assembly: string; svg: boolean; plan: boolean }>();
  const text = diagram(new Environment(readAssembly(opts.assembly), opts.env));
  fs.mkdirSync(GENERATED, { recursive: true });
  const mmd = path.join(GENERATED, `architecture-${opts.env}.mmd`);
  fs.writeFileSync(mmd, text);
  console.log(`wrote ${path.relative(process.cwd(), mmd)} (${text.split('\n').length} lines)`);
  const svg = opts.svg ? await renderSvg(text) : undefined;
  if (svg) {
    const file = path.join(GENERATED, `architecture-${opts.env}.svg`);
    fs.writeFileSync(file, svg);
    console.log(`wrote ${path.relative(process.cwd(), file)}`);
  } else if (opts.svg)
    console.log("no SVG: no Chromium (CHROMIUM_PATH, the system's, or the @sparticuz/chromium package) or no mermaid package");
  if (opts.plan && fs.existsSync(PLAN)) {
    fs.writeFileSync(PLAN, replaceBetweenMarkers(fs.readFileSync(PLAN, 'utf8'), `diagram-${opts.env}`, `\`\`\`mermaid\n${text}\`\`\``));
    console.log(`updated ${path.relative(process.cwd(), PLAN)}`);
  }
}

if (import.meta.main) await main();
