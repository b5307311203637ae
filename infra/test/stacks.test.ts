// The deployment, proven by synthesis: no AWS account is needed or reachable. One app for both
// environments is built once; each assertion reads its synthesized CloudFormation.
import fs from 'node:fs';
import path from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { type Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { loadDataMapping } from '@strangler/data';
import { compileRouteTable, loadProxyConfig } from '@strangler/proxy';
import { repoRoot } from '@strangler/stack';
import { buildApp, type SystemStacks } from '../src/app.ts';
import { APP_CONTAINER, containersOf, FETCH_RDS_CA, INIT_CONTAINER, RDS_CA_FILE } from '../src/constructs/app-task.ts';
import { APP_CONTAINER as HOOK_APP_CONTAINER } from '../src/test-gate/hook-handler.ts';
import { DEPLOYMENT_ALLOWANCE_MINUTES } from '../src/constructs/test-gate.ts';
import { imageFileOf, triggerPaths } from '../src/constructs/service-pipeline.ts';
import { environments, type EnvironmentConfig } from '../src/environments.ts';
import { APPS, BLUE_GREEN_APPS, CUTOVER_APPS, IMAGES, imageOf, SYNC_DATABASES } from '../src/service-catalog.ts';
import { cutoverProjectName } from '../src/constructs/route-cutover.ts';
import { BUILD_AND_TEST, GATE_COMMANDS, stagesFor } from '../src/pipeline-stages.ts';
import { productionPort, SERVICE_NAMESPACE, testPort } from '../src/stacks/services-stack.ts';
import { REDIS_PORT } from '../src/stacks/data-stack.ts';

type Resource = { Type: string; Properties: Record<string, any>; Metadata?: Record<string, any> };
type Resources = Record<string, Resource>;

const { app, stacks } = buildApp();
// Once: Annotations.fromStack would synthesize the whole app again for every stack.
const assembly = app.synth();
const configs = Object.fromEntries(environments().map((c) => [c.name, c])) as Record<'dev' | 'prod', EnvironmentConfig>;
const ENVS = ['dev', 'prod'] as const;
const templates = new Map<Stack, Template>();
const template = (stack: Stack): Template => {
  if (!templates.has(stack)) templates.set(stack, Template.fromStack(stack));
  return templates.get(stack)!;
};
const resources = (stack: Stack, type?: string): Resources =>
  Object.fromEntries(Object.entries(template(stack).toJSON().Resources as Resources).filter(([, r]) => !type || r.Type === type));
const byServiceName = (env: SystemStacks, name: string): Resource =>
  Object.values(resources(env.services, 'AWS::ECS::Service')).find((s) => s.Properties.ServiceName === name)!;
const refOf = (x: unknown): string => (x as { Ref: string }).Ref;
const getAttOf = (x: unknown): string => (x as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

// Fargate's valid CPU units → memory (MiB) pairs.
const FARGATE_MEMORY: Record<number, (m: number) => boolean> = {
  256: (m) => [512, 1024, 2048].includes(m),
  512: (m) => m >= 1024 && m <= 4096 && m % 1024 === 0,
  1024: (m) => m >= 2048 && m <= 8192 && m % 1024 === 0,
  2048: (m) => m >= 4096 && m <= 16384 && m % 1024 === 0,
  4096: (m) => m >= 8192 && m <= 30720 && m % 1024 === 0,
};

it('when the app is synthesized, then it asks for no context (the cdk CLI would look it up in the account, with AWS credentials)', () => {
  expect(assembly.manifest.missing ?? []).toEqual([]);
});

describe.each(ENVS)('%s', (envName) => {
  const env = stacks[envName];
  const config = configs[envName];
  const all = Object.values(env) as Stack[];

  it('synthesizes every stack with no error or warning annotation', () => {
    expect(all.map((s) => s.stackName)).toEqual(
      ['Network', 'Data', 'Registry', 'Services', 'Pipelines'].map((n) => `Strangler-${envName}-${n}`),
    );
    for (const stack of all) {
      expect(Object.keys(resources(stack)).length).toBeGreaterThan(0);
      const messages = assembly.getStackArtifact(stack.artifactId).messages.filter((m) => m.level === 'error' || m.level === 'warning');
      expect(messages.map((m) => `${m.id}: ${String(m.entry.data)}`)).toEqual([]);
    }
  });

  it('network: two AZs, one NAT in dev and one per AZ in prod, endpoints for ECR, S3 and CloudWatch Logs', () => {
    const t = template(env.network);
    t.resourceCountIs('AWS::EC2::NatGateway', envName === 'prod' ? 2 : 1);
    expect(new Set(Object.values(resources(env.network, 'AWS::EC2::Subnet')).map((s) => s.Properties.AvailabilityZone))).toEqual(
      new Set(config.availabilityZones),
    );
    const endpoints = JSON.stringify(Object.values(resources(env.network, 'AWS::EC2::VPCEndpoint')).map((e) => e.Properties.ServiceName));
    for (const service of ['ecr.api', 'ecr.dkr', 'logs', 's3']) expect(endpoints).toContain(`.${service}`);
  });

  it('data: RDS PostgreSQL encrypted, private, backed up, single-AZ in dev and Multi-AZ with deletion protection in prod', () => {
    template(env.data).hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      StorageEncrypted: true,
      PubliclyAccessible: false,
      MultiAZ: envName === 'prod',
      DeletionProtection: envName === 'prod',
      BackupRetentionPeriod: Match.anyValue(),
    });
    const db = Object.values(resources(env.data, 'AWS::RDS::DBInstance'))[0]!;
    expect(db.Properties.BackupRetentionPeriod).toBeGreaterThanOrEqual(7);
    // The admin password is generated in Secrets Manager, never written in the template.
    expect(JSON.stringify(db.Properties.MasterUserPassword)).toContain('resolve:secretsmanager');
    // A role (and database) of its own per app with a database: a generated secret each.
    const databases = [...new Set(APPS.flatMap((a) => (a.database ? [a.database] : [])))];
    expect(Object.keys(env.data.appDatabaseSecrets).sort()).toEqual(databases.sort());
  });

  it('data: Redis encrypted at rest and in transit with an AUTH token; one node in dev, a replica with failover in prod', () => {
    template(env.data).hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      AtRestEncryptionEnabled: true,
      TransitEncryptionEnabled: true,
      AuthToken: Match.anyValue(),
      NumCacheClusters: envName === 'prod' ? 2 : 1,
      AutomaticFailoverEnabled: envName === 'prod',
    });
  });

  it('registry: a repository per image, scanned on push, immutable tags, a lifecycle policy', () => {
    const repos = Object.values(resources(env.registry, 'AWS::ECR::Repository'));
    expect(repos.map((r) => r.Properties.RepositoryName).sort()).toEqual(IMAGES.map((i) => `strangler-${envName}-${i}`).sort());
    for (const r of repos) {
      expect(r.Properties.ImageScanningConfiguration).toEqual({ ScanOnPush: true });
      expect(r.Properties.ImageTagMutability).toBe('IMMUTABLE');
      expect(JSON.parse(r.Properties.LifecyclePolicy.LifecyclePolicyText).rules.length).toBeGreaterThan(0);
    }
  });

  it('cluster: Fargate and Fargate Spot, Container Insights', () => {
    const t = template(env.services);
    t.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', {
      CapacityProviders: Match.arrayWith(['FARGATE', 'FARGATE_SPOT']),
    });
    t.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
  });

  it('load balancers: the proxy behind the internet-facing one, autoscaled on CPU and on requests per target; the apps behind the internal one', () => {
    const lbs = Object.values(resources(env.services, 'AWS::ElasticLoadBalancingV2::LoadBalancer'));
    expect(lbs.map((l) => l.Properties.Scheme).sort()).toEqual(['internal', 'internet-facing']);
    for (const lb of lbs)
      expect(lb.Properties.LoadBalancerAttributes).toEqual(
        expect.arrayContaining([
          { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
          { Key: 'access_logs.s3.enabled', Value: 'true' },
        ]),
      );
    const proxy = byServiceName(env, 'proxy');
    expect(proxy.Properties.DesiredCount).toBeGreaterThanOrEqual(2);
    // The proxy answers the names it is reached by (others get 421): both load balancers', and the public domain.
    const task = resources(env.services, 'AWS::ECS::TaskDefinition')[refOf(proxy.Properties.TaskDefinition)]!;
    const hosts = JSON.stringify(
      task.Properties.ContainerDefinitions[0].Environment.find((e: { Name: string }) => e.Name === 'ALLOWED_HOSTS').Value,
    );
    const albs = Object.entries(resources(env.services, 'AWS::ElasticLoadBalancingV2::LoadBalancer')).map(([id]) => id);
    for (const alb of albs) expect(hosts).toContain(`"Fn::GetAtt":["${alb}","DNSName"]`);
    if (config.domainName) expect(hosts).toContain(config.domainName);
    const metrics = Object.values(resources(env.services, 'AWS::ApplicationAutoScaling::ScalingPolicy')).filter((p) =>
      JSON.stringify(p.Properties.ScalingTargetId).includes('ProxyService'),
    );
    expect(
      metrics.map((p) => p.Properties.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType).sort(),
    ).toEqual(['ALBRequestCountPerTarget', 'ECSServiceAverageCPUUtilization']);
    // prod serves HTTPS and redirects HTTP; dev (no certificate) serves HTTP.
    const publicListeners = Object.values(resources(env.services, 'AWS::ElasticLoadBalancingV2::Listener')).filter((l) =>
      [80, 443].includes(l.Properties.Port),
    );
    if (envName === 'prod') {
      expect(publicListeners.find((l) => l.Properties.Port === 443)!.Properties.Protocol).toBe('HTTPS');
      expect(publicListeners.find((l) => l.Properties.Port === 80)!.Properties.DefaultActions[0].Type).toBe('redirect');
    } else expect(publicListeners.map((l) => l.Properties.Port)).toEqual([80]);
  });

  it('listener rules: unique priorities per listener, forward-only actions, a production and a test rule per blue/green app', () => {
    const rules = Object.values(resources(env.services, 'AWS::ElasticLoadBalancingV2::ListenerRule'));
    expect(rules).toHaveLength(BLUE_GREEN_APPS.length * 2);
    const perListener = new Map<string, number[]>();
    for (const rule of rules) {
      perListener.set(refOf(rule.Properties.ListenerArn), [
        ...(perListener.get(refOf(rule.Properties.ListenerArn)) ?? []),
        rule.Properties.Priority,
      ]);
      expect(rule.Properties.Actions.map((a: { Type: string }) => a.Type)).toEqual(['forward']);
    }
    for (const priorities of perListener.values()) expect(new Set(priorities).size).toBe(priorities.length);
    // Every listener's ports are distinct; the internal listeners are closed by default (open: false).
    const listeners = Object.values(resources(env.services, 'AWS::ElasticLoadBalancingV2::Listener'));
    const ports = listeners.map((l) => l.Properties.Port);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('the proxy starts from a route table it accepts: every group on the monolith, upstreams on the production listeners', () => {
    const param = Object.values(resources(env.services, 'AWS::SSM::Parameter'))[0]!;
    // The table as the task receives it, the internal ALB's name standing in for its token.
    const [sep, parts] = param.Properties.Value['Fn::Join'] as [string, unknown[]];
    const text = parts.map((p) => (typeof p === 'string' ? p : 'internal.alb.test')).join(sep);
    const table = compileRouteTable(text);
    expect(text).toMatch(/^version: 1$/m);
    expect([...text.matchAll(/mode: (\w+)/g)].map((m) => m[1])).toEqual(
      BLUE_GREEN_APPS.filter((a) => a.name !== 'monolith').map(() => 'monolith'),
    );
    BLUE_GREEN_APPS.forEach((a, i) => expect(text).toContain(`${a.name}: { url: "http://internal.alb.test:${productionPort(i)}"`));
    expect(table).toBeDefined();
  });

  it('the test listeners admit only the test gates’ security group, never the world', () => {
    const ingress = Object.values(resources(env.services, 'AWS::EC2::SecurityGroupIngress'));
    const groups = resources(env.services, 'AWS::EC2::SecurityGroup');
    const gatesSg = Object.keys(groups).find((k) => k.startsWith('GatesSg'))!;
    BLUE_GREEN_APPS.forEach((_, i) => {
      const rules = ingress.filter((r) => r.Properties.FromPort === testPort(i));
      expect(rules).toHaveLength(1);
      expect(getAttOf(rules[0]!.Properties.SourceSecurityGroupId)).toBe(gatesSg);
      expect(rules[0]!.Properties.CidrIp).toBeUndefined();
    });
    // Only the public load balancer's group takes traffic from anywhere, on 80/443 only.
    for (const [id, sg] of Object.entries(groups)) {
      const world = (sg.Properties.SecurityGroupIngress ?? []).filter((r: { CidrIp?: string }) => r.CidrIp === '0.0.0.0/0');
      if (id.startsWith('PublicAlbSg'))
        expect(world.map((r: { FromPort: number }) => r.FromPort).sort()).toEqual(envName === 'prod' ? [443, 80] : [80]);
      else expect(world).toEqual([]);
    }
    expect(ingress.filter((r) => r.Properties.CidrIp === '0.0.0.0/0')).toEqual([]);
  });

  it('when a load balancer checks a target’s health on a port of its own (the public one, the proxy’s admin port 8081), then the target’s security group admits that load balancer there, not only on the traffic port', () => {
    const ingress = Object.values(resources(env.services, 'AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties);
    const lbs = resources(env.services, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    const forwards = [...Object.values(resources(env.services, 'AWS::ElasticLoadBalancingV2::Listener'))];
    const checked = Object.entries(resources(env.services, 'AWS::ElasticLoadBalancingV2::TargetGroup')).filter(
      ([, tg]) => tg.Properties.HealthCheckPort && tg.Properties.HealthCheckPort !== 'traffic-port',
    );
    expect(checked.length).toBeGreaterThan(0);
    for (const [tgId, tg] of checked) {
      const port = Number(tg.Properties.HealthCheckPort);
      const lbGroups = forwards
        .filter((l) => JSON.stringify(l.Properties.DefaultActions).includes(`{"Ref":"${tgId}"}`))
        .flatMap((l) => lbs[refOf(l.Properties.LoadBalancerArn)]!.Properties.SecurityGroups.map(getAttOf));
      const targetGroups = Object.values(resources(env.services, 'AWS::ECS::Service'))
        .filter((svc) => (svc.Properties.LoadBalancers ?? []).some((lb: { TargetGroupArn: unknown }) => refOf(lb.TargetGroupArn) === tgId))
        .flatMap((svc) => svc.Properties.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups.map(getAttOf));
      expect(lbGroups.length, tgId).toBeGreaterThan(0);
      for (const from of lbGroups) {
        const groupOf = (x: unknown): string | undefined => (x as { 'Fn::GetAtt'?: [string] })['Fn::GetAtt']?.[0];
        const admitted = ingress.some(
          (r) =>
            targetGroups.includes(groupOf(r.GroupId)!) &&
            groupOf(r.SourceSecurityGroupId) === from &&
            r.FromPort <= port &&
            port <= r.ToPort,
        );
        expect(admitted, `${from} → ${tgId} health checks on :${port}`).toBe(true);
      }
    }
  });

  // The replicator, as the proxy finds it: a private DNS name, its port, its security group.
  const sync = APPS.find((a) => a.name === 'sync')!;
  const taskOf = (service: string): Resource =>
    resources(env.services, 'AWS::ECS::TaskDefinition')[refOf(byServiceName(env, service).Properties.TaskDefinition)]!;
  const appContainer = (
    service: string,
  ): {
    Environment: { Name: string; Value: unknown }[];
    Secrets?: { Name: string; ValueFrom: unknown }[];
    PortMappings: { ContainerPort: number }[];
  } => taskOf(service).Properties.ContainerDefinitions.find((c: { Name: string }) => c.Name === 'app');
  const envOf = (service: string): Record<string, unknown> =>
    Object.fromEntries(appContainer(service).Environment.map((e) => [e.Name, e.Value]));
  const groupIdOf = (prefix: string): string =>
    Object.keys(resources(env.services, 'AWS::EC2::SecurityGroup')).find((k) => k.startsWith(prefix))!;
  const groupsOf = (service: string): string[] =>
    byServiceName(env, service).Properties.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups.map(getAttOf);

  it('when the proxy looks the replicator up, then a private DNS namespace of the VPC holds an A record for the sync service’s task', () => {
    const t = template(env.services);
    t.resourceCountIs('AWS::ServiceDiscovery::PrivateDnsNamespace', 1);
    t.hasResourceProperties('AWS::ServiceDiscovery::PrivateDnsNamespace', { Name: SERVICE_NAMESPACE, Vpc: Match.anyValue() });
    const [namespaceId] = Object.keys(resources(env.services, 'AWS::ServiceDiscovery::PrivateDnsNamespace'));
    t.hasResourceProperties('AWS::ServiceDiscovery::Service', {
      Name: sync.name,
      NamespaceId: { 'Fn::GetAtt': [namespaceId, 'Id'] },
      DnsConfig: Match.objectLike({ DnsRecords: [{ Type: 'A', TTL: 10 }], RoutingPolicy: 'MULTIVALUE' }),
    });
    // ECS registers (and deregisters) the sync task's address there; nothing else is registered.
    const discovery = Object.keys(resources(env.services, 'AWS::ServiceDiscovery::Service'));
    expect(discovery).toHaveLength(1);
    expect(byServiceName(env, sync.name).Properties.ServiceRegistries).toEqual([{ RegistryArn: { 'Fn::GetAtt': [discovery[0], 'Arn'] } }]);
    for (const name of APPS.map((a) => a.name).filter((n) => n !== sync.name))
      expect(byServiceName(env, name).Properties.ServiceRegistries).toBeUndefined();
  });

  it('when anything but the proxy reaches for the replicator, then its security group admits only the proxy’s, on the sync port', () => {
    const syncSg = groupIdOf('SyncSg');
    const proxySg = groupIdOf('ProxySg');
    // The replicator is in its own group alone: not the app tasks' group, which the internal load balancer reaches.
    expect(groupsOf(sync.name)).toEqual([syncSg]);
    expect(groupsOf('proxy')).toContain(proxySg);
    for (const name of APPS.map((a) => a.name).filter((n) => n !== 'proxy')) expect(groupsOf(name)).not.toContain(proxySg);
    const rulesInto = (group: string): Record<string, unknown>[] => [
      ...Object.values(resources(env.services, 'AWS::EC2::SecurityGroupIngress'))
        .filter((r) => JSON.stringify(r.Properties.GroupId) === JSON.stringify({ 'Fn::GetAtt': [group, 'GroupId'] }))
        .map((r) => r.Properties),
      ...(resources(env.services, 'AWS::EC2::SecurityGroup')[group]!.Properties.SecurityGroupIngress ?? []),
    ];
    expect(rulesInto(syncSg)).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: sync.port,
        ToPort: sync.port,
        SourceSecurityGroupId: { 'Fn::GetAtt': [proxySg, 'GroupId'] },
      }),
    ]);
    template(env.services).hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [syncSg, 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [proxySg, 'GroupId'] },
      FromPort: sync.port,
      ToPort: sync.port,
      CidrIp: Match.absent(),
    });
    // It still reaches PostgreSQL: the database's group admits the replicator's (a rule kept in this stack).
    template(env.services).hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      SourceSecurityGroupId: { 'Fn::GetAtt': [syncSg, 'GroupId'] },
      FromPort: 5432,
      ToPort: 5432,
    });
  });

  it('when the proxy task starts, then SYNC_STATUS_URL names the replicator by its DNS name and port, and the clock margin allows for clocks of different hosts', () => {
    const url = `http://${sync.name}.${SERVICE_NAMESPACE}:${sync.port}`;
    template(env.services).hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: Match.arrayWith([
        Match.objectLike({ Name: 'app', Environment: Match.arrayWith([{ Name: 'SYNC_STATUS_URL', Value: url }]) }),
      ]),
    });
    // The proxy's own parser reads the task's settings (tokens standing for the load balancers' names) as meant.
    const plain = Object.fromEntries(
      Object.entries(envOf('proxy')).map(([k, v]) => [
        k,
        typeof v === 'string' ? v : k === 'ALLOWED_HOSTS' ? 'alb.test' : 'postgres://u@db.test:5432/strangler',
      ]),
    );
    const shadow = loadProxyConfig(plain).shadow;
    expect(shadow.syncStatusUrl).toBe(url);
    expect(shadow.clockMarginMs).toBe(50);
    // The replicator listens where that URL points: every interface, the port mapped.
    expect(envOf(sync.name)).toMatchObject({ SYNC_HOST: '0.0.0.0', SYNC_PORT: String(sync.port) });
    expect(appContainer(sync.name).PortMappings.map((p) => p.ContainerPort)).toContain(sync.port);
    // It copies every service the proxy may ask about, so no /watermark answers 404 for one of them.
    const mappings = loadDataMapping(path.join(repoRoot, String(envOf(sync.name).DATA_MAPPING)));
    for (const service of mappings.services) expect(envOf(sync.name)).toHaveProperty(`${service.toUpperCase()}_DATABASE_URL`);
  });

  it('when the load balancers keep a connection to a proxy task idle, then the proxy keeps it longer, so a load balancer never reuses one the proxy is closing (a 502)', () => {
    const plain = Object.fromEntries(Object.entries(envOf('proxy')).map(([k, v]) => [k, typeof v === 'string' ? v : 'token.test']));
    const attributes = Object.values(resources(env.services, 'AWS::ElasticLoadBalancingV2::LoadBalancer')).map(
      (lb) => (lb.Properties.LoadBalancerAttributes ?? []) as { Key: string; Value: string }[],
    );
    expect(attributes.length).toBeGreaterThan(0);
    for (const attrs of attributes) {
      // 60 s unless set (Elastic Load Balancing's idle_timeout.timeout_seconds).
      const idleSeconds = Number(attrs.find((a) => a.Key === 'idle_timeout.timeout_seconds')?.Value ?? 60);
      expect(loadProxyConfig(plain).limits.idleTimeoutMs).toBeGreaterThan(idleSeconds * 1000);
    }
  });

  it('when the proxy tasks start, then they follow the shared route table in the environment’s Redis (its TLS URL, its AUTH token as a secret, a prefix of their own), which their security group reaches; the parameter only seeds it', () => {
    const proxyEnv = envOf('proxy');
    const secret = (service: string, name: string): unknown => appContainer(service).Secrets!.find((x) => x.Name === name)?.ValueFrom;
    // The one Redis the apps use: the same endpoint and port, over TLS, the same AUTH token.
    expect(proxyEnv.ROUTES_STORE_URL).toEqual(envOf('monolith').REDIS_URL);
    expect(JSON.stringify(proxyEnv.ROUTES_STORE_URL)).toContain('rediss://');
    expect(secret('proxy', 'ROUTES_STORE_PASSWORD')).toEqual(secret('monolith', 'REDIS_PASSWORD'));
    expect(proxyEnv.ROUTES_STORE_PREFIX).toBe(`strangler:${envName}:routes`);
    // As the proxy reads it: the store is the source, the file only seeds an empty one, nothing replaced at a task's start.
    const store = loadProxyConfig({
      ROUTES_FILE: String(proxyEnv.ROUTES_FILE),
      ROUTES_STORE_URL: `rediss://redis.test:${REDIS_PORT}`,
      ROUTES_STORE_PREFIX: String(proxyEnv.ROUTES_STORE_PREFIX),
    }).routesStore;
    expect(store).toMatchObject({ prefix: `strangler:${envName}:routes`, seed: 'if-empty', mirrorToFile: false });
    expect(proxyEnv).not.toHaveProperty('ROUTES_STORE_SEED');
    // Reach: the Redis group admits the tasks' group on its port, and every proxy task is in that group.
    const redisRules = Object.values(resources(env.services, 'AWS::EC2::SecurityGroupIngress')).filter(
      (r) => r.Properties.FromPort === REDIS_PORT && r.Properties.ToPort === REDIS_PORT,
    );
    const admitted = redisRules.map((r) => getAttOf(r.Properties.SourceSecurityGroupId));
    expect(groupsOf('proxy').some((g) => admitted.includes(g))).toBe(true);
  });

  it('when the stack is first deployed, then the replicator is created only after every app whose database it prepares (their init containers make those databases)', () => {
    const syncService = Object.entries(
      template(env.services).toJSON().Resources as Record<string, { Type: string; DependsOn?: string[]; Properties: any }>,
    ).find(([, r]) => r.Type === 'AWS::ECS::Service' && r.Properties.ServiceName === sync.name)![1];
    const serviceIds = Object.fromEntries(
      Object.entries(resources(env.services, 'AWS::ECS::Service')).map(([id, r]) => [r.Properties.ServiceName, id]),
    );
    const databases = BLUE_GREEN_APPS.filter((a) => a.database && SYNC_DATABASES.includes(a.database));
    expect(databases.map((a) => a.name).sort()).toEqual(BLUE_GREEN_APPS.map((a) => a.name).sort());
    for (const app of databases) expect(syncService.DependsOn ?? [], app.name).toContain(serviceIds[app.name]);
  });

  it('when the proxy and the replicator are built by constructs of their own, then their resources keep the logical IDs and generated names they had in the stack (a deployed stack would otherwise replace them)', () => {
    // Logical IDs hash the construct path: these are the ones of the stack-level resources a deployed stack holds.
    const kept = [
      'ProxySgDFD428A2',
      'RouteTable82FB8FA6',
      'proxyTask9B2CDC57',
      'ProxyServiceE575189E',
      'ProxyPublicTargetsBAB4A2E9',
      'ProxyInternalTargetsFDE93ED5',
      'InternalAlbProxyInternal10F2AB2A',
      'SyncSg7ECC49C4',
      'Namespace9B63B8C8',
      'syncTaskB7ADBA57',
      'SyncService21AC2843',
      'SyncServiceCloudmapService5E0A8848',
    ];
    expect(kept.filter((id) => !(id in resources(env.services)))).toEqual([]);
    expect(byServiceName(env, 'proxy')).toEqual(resources(env.services).ProxyServiceE575189E);
    expect(byServiceName(env, sync.name)).toEqual(resources(env.services).SyncService21AC2843);
    // Names CDK derives from the path too (a new family would be a new task definition lineage).
    for (const name of ['proxy', sync.name]) {
      const family = resources(env.services, 'AWS::ECS::TaskDefinition')[refOf(byServiceName(env, name).Properties.TaskDefinition)]!
        .Properties.Family;
      expect(family).toMatch(new RegExp(`^Strangler${envName}Services${name}Task[0-9A-F]{8}$`));
    }
  });

  it('when the monolith and the auth service count failed logins, then both are given the one Redis (its URL and password) and the hops to the client', () => {
    const redis = ['monolith', 'auth'].map((name) => ({
      url: envOf(name).REDIS_URL,
      password: appContainer(name).Secrets!.find((s) => s.Name === 'REDIS_PASSWORD')?.ValueFrom,
      hops: envOf(name).FORWARDED_FOR_HOPS,
    }));
    expect(JSON.stringify(redis[0]!.url)).toContain('rediss://');
    expect(redis[0]!.password).toBeDefined();
    expect(redis[1]).toEqual(redis[0]);
    expect(redis[0]!.hops).toBe('3');
  });

  it('when the monolith and the auth service set the session cookie, then it is Secure only where the site is served over HTTPS (prod), so dev logins over HTTP stick', () => {
    for (const name of ['monolith', 'auth']) expect(envOf(name).SECURE_COOKIES, name).toBe(config.certificateArn ? 'true' : 'false');
    expect(Boolean(config.certificateArn)).toBe(envName === 'prod');
  });

  describe.each(BLUE_GREEN_APPS.map((a, i) => [a.name, a, i] as const))('%s: ECS-native blue/green', (name, appEntry, i) => {
    it('strategy BLUE_GREEN, the bake time, the POST_TEST_TRAFFIC_SHIFT hook, alarms that roll back', () => {
      const service = byServiceName(env, name);
      const deployment = service.Properties.DeploymentConfiguration;
      expect(deployment.Strategy).toBe('BLUE_GREEN');
      expect(deployment.BakeTimeInMinutes).toBe(config.bakeTimeMinutes);
      expect(deployment.LifecycleHooks).toHaveLength(1);
      expect(deployment.LifecycleHooks[0].LifecycleStages).toEqual(['POST_TEST_TRAFFIC_SHIFT']);
      expect(getAttOf(deployment.LifecycleHooks[0].HookTargetArn)).toMatch(new RegExp(`^${name}GateHook`));
      expect(deployment.Alarms).toMatchObject({ Enable: true, Rollback: true });
      const alarms = resources(env.services, 'AWS::CloudWatch::Alarm');
      const metrics = deployment.Alarms.AlarmNames.map((n: unknown) => alarms[refOf(n)]!.Properties.MetricName).sort();
      expect(metrics).toEqual(['HTTPCode_Target_5XX_Count', 'HTTPCode_Target_5XX_Count', 'UnHealthyHostCount', 'UnHealthyHostCount']);
      expect(service.Properties.CapacityProviderStrategy.map((c: { CapacityProvider: string }) => c.CapacityProvider).sort()).toEqual([
        'FARGATE',
        'FARGATE_SPOT',
      ]);
    });

    it('blue and green target groups, the production rule on its production listener, the test rule on its test listener', () => {
      const lb = byServiceName(env, name).Properties.LoadBalancers[0];
      expect(lb.ContainerPort).toBe(appEntry.port);
      const advanced = lb.AdvancedConfiguration;
      expect(refOf(advanced.AlternateTargetGroupArn)).not.toBe(refOf(lb.TargetGroupArn));
      expect(advanced.RoleArn).toBeDefined();
      const rules = resources(env.services, 'AWS::ElasticLoadBalancingV2::ListenerRule');
      const listeners = resources(env.services, 'AWS::ElasticLoadBalancingV2::Listener');
      const production = rules[refOf(advanced.ProductionListenerRule)]!;
      const test = rules[refOf(advanced.TestListenerRule)]!;
      expect(listeners[refOf(production.Properties.ListenerArn)]!.Properties.Port).toBe(productionPort(i));
      expect(listeners[refOf(test.Properties.ListenerArn)]!.Properties.Port).toBe(testPort(i));
      expect(refOf(production.Properties.Actions[0].TargetGroupArn)).toBe(refOf(lb.TargetGroupArn));
      expect(refOf(test.Properties.Actions[0].TargetGroupArn)).toBe(refOf(advanced.AlternateTargetGroupArn));
    });

    it('the hook: ECS may invoke only its function; the function may start and read only its CodeBuild project, and read only its own service’s deployments and revisions', () => {
      const policies = resources(env.services, 'AWS::IAM::Policy');
      const roles = resources(env.services, 'AWS::IAM::Role');
      const hookRef = getAttOf(byServiceName(env, name).Properties.DeploymentConfiguration.LifecycleHooks[0].HookTargetArn);
      const invokeRole = getAttOf(byServiceName(env, name).Properties.DeploymentConfiguration.LifecycleHooks[0].RoleArn);
      expect(roles[invokeRole]!.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'ecs.amazonaws.com' });
      const statementsOf = (role: string) =>
        Object.values(policies)
          .filter((p) => p.Properties.Roles.some((r: unknown) => refOf(r) === role))
          .flatMap((p) => p.Properties.PolicyDocument.Statement);
      expect(statementsOf(invokeRole)).toEqual([
        { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { 'Fn::GetAtt': [hookRef, 'Arn'] } },
      ]);
      const fn = resources(env.services, 'AWS::Lambda::Function')[hookRef]!;
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'] });
      const project = Object.keys(resources(env.services, 'AWS::CodeBuild::Project')).find((k) => k.startsWith(`${name}GateTests`))!;
      const cluster = Object.keys(resources(env.services, 'AWS::ECS::Cluster'))[0]!;
      // Service Authorization Reference, Amazon ECS, DescribeServiceDeployments: resource types
      // `service*` (arn:${Partition}:ecs:${Region}:${Account}:service/${ClusterName}/${ServiceName}) and
      // `service-deployment*` (…:service-deployment/${ClusterName}/${ServiceName}/${ServiceDeploymentId}).
      const ecsArn = (resource: string, tail: string) => ({
        'Fn::Join': [
          '',
          ['arn:', { Ref: 'AWS::Partition' }, `:ecs:${config.region}:${config.account}:${resource}/`, { Ref: cluster }, tail],
        ],
      });
      expect(statementsOf(getAttOf(fn.Properties.Role))).toEqual([
        { Action: ['codebuild:StartBuild', 'codebuild:BatchGetBuilds'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [project, 'Arn'] } },
        {
          Action: 'ecs:DescribeServiceDeployments',
          Effect: 'Allow',
          Resource: [ecsArn('service', `/${name}`), ecsArn('service-deployment', `/${name}/*`)],
        },
        // The green revision's image, whose tag is the commit the gate tests (DescribeServiceRevisions:
        // `service*` and `service-revision*`).
        {
          Action: 'ecs:DescribeServiceRevisions',
          Effect: 'Allow',
          Resource: [ecsArn('service', `/${name}`), ecsArn('service-revision', `/${name}/*`)],
        },
      ]);
      expect(fn.Properties.Environment.Variables.PROJECT_NAME).toEqual({ Ref: project });
    });

    it('when the gate’s journeys launch Chromium, then they take the packaged one the repository resolves (no apt step, no CHROMIUM_PATH), on the x86_64 image that package is built for', () => {
      const project = Object.entries(resources(env.services, 'AWS::CodeBuild::Project')).find(([k]) =>
        k.startsWith(`${name}GateTests`),
      )![1];
      const spec = JSON.stringify(project.Properties.Source.BuildSpec);
      expect(spec).not.toMatch(/apt-get|apt install|dnf |yum /);
      expect(spec).not.toContain('CHROMIUM_PATH');
      expect(spec).toContain('npm ci');
      expect(project.Properties.Environment.Type).toBe('LINUX_CONTAINER');
      // The package the resolution falls back to is a dependency the gate's npm ci installs.
      const contractTests = JSON.parse(fs.readFileSync(path.join(repoRoot, 'contract-tests/package.json'), 'utf8'));
      expect({ ...contractTests.dependencies, ...contractTests.devDependencies }).toHaveProperty('@sparticuz/chromium');
    });

    it('when the gate’s build starts, then its source is the deployed commit’s zip the image build left in the gate bucket (no repository credentials, no branch tip), and the hook knows that bucket', () => {
      const projects = resources(env.services, 'AWS::CodeBuild::Project');
      const [projectId, project] = Object.entries(projects).find(([k]) => k.startsWith(`${name}GateTests`))!;
      const bucket = Object.keys(resources(env.services, 'AWS::S3::Bucket')).find((k) => k.startsWith('GateSources'))!;
      expect(project.Properties.Source).toMatchObject({ Type: 'S3', Location: { 'Fn::Join': ['', [{ Ref: bucket }, '/sources/']] } });
      expect(project.Properties.SourceVersion).toBeUndefined();
      expect(project.Properties.Source.Auth).toBeUndefined();
      // The hook overrides the location with `<bucket>/sources/<commit>.zip`: it is told the bucket.
      const hookRef = getAttOf(byServiceName(env, name).Properties.DeploymentConfiguration.LifecycleHooks[0].HookTargetArn);
      const fn = resources(env.services, 'AWS::Lambda::Function')[hookRef]!;
      expect(fn.Properties.Environment.Variables.SOURCE_BUCKET).toEqual({ Ref: bucket });
      // The project's role reads any commit's zip in that bucket.
      const roleOf = getAttOf(project.Properties.ServiceRole);
      const reads = Object.values(resources(env.services, 'AWS::IAM::Policy'))
        .filter((p) => p.Properties.Roles.some((r: unknown) => refOf(r) === roleOf))
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .filter((st) => [st.Action].flat().includes('s3:GetObject*'));
      expect(JSON.stringify(reads)).toContain(`{"Fn::GetAtt":["${bucket}","Arn"]},"/sources/*"`);
      expect(projectId).toBeDefined();
      // And the image build of every pipeline puts its commit's source exactly there.
      const cross = JSON.stringify(
        Object.entries(resources(env.pipelines, 'AWS::CodeBuild::Project')).filter(([k]) => /PipelineImage/.test(k)),
      );
      expect(cross).toContain('s3://$GATE_SOURCES/sources/$TAG.zip');
      // The hook finds the commit in the image of the container the task definitions call the app.
      expect(HOOK_APP_CONTAINER).toBe(APP_CONTAINER);
    });

    it('when the gate’s proxy routes the journeys, then only the candidate’s traffic goes to green (its test listener), every other group to its production listener, by the real groups — and the gate may reach both kinds of listener', () => {
      const [projectId, project] = Object.entries(resources(env.services, 'AWS::CodeBuild::Project')).find(([k]) =>
        k.startsWith(`${name}GateTests`),
      )!;
      const spec = JSON.parse(JSON.stringify(project.Properties.Source.BuildSpec));
      const body = (spec['Fn::Join'] as [string, unknown[]])[1];
      // The internal ALB's name stands in for its token, as the build receives it.
      const text = body.map((p) => (typeof p === 'string' ? p : 'internal.alb.test')).join('');
      const routes = JSON.parse(text).env.variables.ROUTES_YAML as string;
      const commands = JSON.parse(text).phases.build.commands as string[];
      // The gate of the one stage list (contracts, then journeys), against the gate's own proxy.
      expect(commands.at(-1)).toBe(`export E2E_BASE_URL=http://127.0.0.1:8080 && ${GATE_COMMANDS.join(' && ')}`);
      // The journeys start once the gate's proxy answers its health probe, not after a fixed pause.
      expect(commands.at(-2)).toContain('http://127.0.0.1:8081/__strangler/healthz');
      expect(commands.join('\n')).not.toMatch(/sleep [2-9]/);
      const table = compileRouteTable(routes);
      const upstreamOf = (path: string): string => {
        const segments = path.split('/').filter(Boolean);
        const { upstream } = table.decide({ method: 'GET', segments, headers: {}, cookies: new Map(), userKey: { value: 'journey' } });
        return table.upstreams.get(upstream)!.url;
      };
      const green = `http://internal.alb.test:${testPort(i)}`;
      const production = (app: string) => `http://internal.alb.test:${productionPort(BLUE_GREEN_APPS.findIndex((a) => a.name === app))}`;
      // One path of each group, and one only the monolith serves: the candidate's own to green, the rest to production.
      const paths: Record<string, string> = {
        auth: '/api/auth/me',
        listings: '/api/listings/1',
        orders: '/api/orders/1',
        monolith: '/login',
      };
      for (const [group, path] of Object.entries(paths)) {
        const expected = name === 'monolith' ? green : group === name ? green : production('monolith');
        expect(upstreamOf(path), `${name}'s gate: ${path}`).toBe(expected);
      }
      // Every production listener the gate's proxy names is a real one.
      for (const [upstream, spec] of table.upstreams)
        expect([green, ...BLUE_GREEN_APPS.map((a) => production(a.name))], upstream).toContain(spec.url);
      expect(routes).not.toContain('/api/*');
      expect(project.Properties.VpcConfig).toBeDefined();
      expect(projectId).toBeDefined();
      // The gates' group reaches this app's test listener and its production listener.
      const gatesSg = groupIdOf('GatesSg');
      const ingress = Object.values(resources(env.services, 'AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties);
      for (const port of [testPort(i), productionPort(i)])
        expect(
          ingress.some((r) => r.FromPort === port && getAttOf(r.SourceSecurityGroupId) === gatesSg),
          `gates → :${port}`,
        ).toBe(true);
    });
  });

  it('task definitions: ARM64, a valid Fargate CPU/memory pair, logs kept for the environment’s retention, secrets as secrets', () => {
    const tasks = Object.values(resources(env.services, 'AWS::ECS::TaskDefinition'));
    expect(tasks).toHaveLength(APPS.length);
    const logGroups = resources(env.services, 'AWS::Logs::LogGroup');
    for (const task of tasks) {
      const p = task.Properties;
      expect(p.RuntimePlatform).toEqual({ CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' });
      expect(p.RequiresCompatibilities).toEqual(['FARGATE']);
      expect(FARGATE_MEMORY[Number(p.Cpu)]?.(Number(p.Memory))).toBe(true);
      for (const c of p.ContainerDefinitions) {
        expect(c.LogConfiguration.LogDriver).toBe('awslogs');
        expect(logGroups[refOf(c.LogConfiguration.Options['awslogs-group'])]!.Properties.RetentionInDays).toBe(config.logRetentionDays);
        // Nothing secret-shaped in plain settings, and no URL with a password in it.
        for (const e of c.Environment ?? []) {
          expect(e.Name).not.toMatch(/PASSWORD|SECRET|TOKEN/);
          expect(JSON.stringify(e.Value)).not.toMatch(/\/\/[^/@"]+:[^/@"]+@/);
        }
        // A secret is a reference to Secrets Manager or a parameter, never a literal value.
        for (const s of c.Secrets ?? [])
          expect(typeof s.ValueFrom === 'object' || /^arn:aws:(secretsmanager|ssm):/.test(s.ValueFrom)).toBe(true);
      }
      const app = p.ContainerDefinitions.find((c: { Name: string }) => c.Name === 'app');
      expect(app.User ?? null).toBeNull(); // the image's own non-root user (Dockerfile USER node)
      if (p.ContainerDefinitions.some((c: { Name: string }) => c.Name === INIT_CONTAINER)) {
        expect(app.DependsOn).toEqual([{ ContainerName: INIT_CONTAINER, Condition: 'SUCCESS' }]);
        expect(app.Secrets.map((s: { Name: string }) => s.Name)).toContain('DATABASE_PASSWORD');
        // Only the init container holds the admin password.
        expect(app.Secrets.map((s: { Name: string }) => s.Name)).not.toContain('ADMIN_DATABASE_PASSWORD');
      }
    }
  });

  it('when a service’s pipeline has deployed it, then its last stage runs strangler cutover of its group: in the VPC, next to the one store the proxies follow, passwords as secrets, started by that pipeline only', () => {
    expect(CUTOVER_APPS.map((a) => a.name).sort()).toEqual(['auth', 'listings', 'orders']);
    const projects = Object.values(resources(env.services, 'AWS::CodeBuild::Project')).filter((p) =>
      String(p.Properties.Name).includes('-cutover-'),
    );
    expect(projects.map((p) => p.Properties.Name).sort()).toEqual(CUTOVER_APPS.map((a) => cutoverProjectName(config, a.name)).sort());
    const proxyEnv = envOf('proxy');
    const sgRules = Object.values(resources(env.services, 'AWS::EC2::SecurityGroupIngress'));
    for (const app of CUTOVER_APPS) {
      const project = projects.find((p) => p.Properties.Name === cutoverProjectName(config, app.name))!.Properties;
      const vars = Object.fromEntries(project.Environment.EnvironmentVariables.map((v: any) => [v.Name, v]));
      expect(vars.GROUP.Value).toBe(app.name);
      expect(vars.ROUTES_STORE_URL.Value).toEqual(proxyEnv.ROUTES_STORE_URL);
      expect(vars.ROUTES_STORE_PREFIX.Value).toBe(proxyEnv.ROUTES_STORE_PREFIX);
      // Every password from Secrets Manager, none in the template.
      const passwords = Object.keys(vars).filter((k) => k.endsWith('PASSWORD'));
      expect(vars.ADMIN_TOKEN.Type).toBe('SECRETS_MANAGER');
      expect(vars.E2E_BASE_URL.Value).toEqual(envOf('monolith').API_BASE_URL);
      // Its gate: the contract suites a deployment can serve, then the journeys, both previewing the group.
      expect(project.Source.BuildSpec).toContain('--gate \\"npm run gate:contracts && npm run e2e\\"');
      const scripts = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).scripts;
      expect([scripts['gate:contracts'], scripts.e2e]).toEqual([expect.any(String), expect.any(String)]);
      expect(passwords.sort()).toEqual(
        [
          'MONOLITH_DATABASE_PASSWORD',
          'ROUTES_STORE_PASSWORD',
          'STRANGLER_DATABASE_PASSWORD',
          `${app.name.toUpperCase()}_DATABASE_PASSWORD`,
        ].sort(),
      );
      for (const k of passwords) expect(vars[k].Type, k).toBe('SECRETS_MANAGER');
      expect(project.Source.BuildSpec).toContain('node strangler-cli/src/strangler.ts cutover \\"$GROUP\\" --resume --json');
      // In the app subnets, in a group that Redis and PostgreSQL admit.
      expect(project.VpcConfig.Subnets.length).toBeGreaterThan(0);
      const [sg] = project.VpcConfig.SecurityGroupIds.map(getAttOf);
      // Redis, PostgreSQL, and the proxy's internal listener (the gate's journeys).
      for (const port of [REDIS_PORT, 5432, 8080])
        expect(
          sgRules.some((r) => r.Properties.FromPort === port && getAttOf(r.Properties.SourceSecurityGroupId) === sg),
          String(port),
        ).toBe(true);
    }
    // The pipeline's Cutover action starts that project by name, and its role may start only that one.
    for (const app of CUTOVER_APPS) {
      const p = Object.values(resources(env.pipelines, 'AWS::CodePipeline::Pipeline')).find(
        (x) => x.Properties.Name === `strangler-${envName}-${imageOf(app)}`,
      )!.Properties;
      const stage = p.Stages.at(-1);
      expect(stage.Name).toBe('Cutover');
      expect(stage.Actions.map((a: any) => a.Configuration.ProjectName)).toEqual([cutoverProjectName(config, app.name)]);
    }
    const starts = JSON.stringify(resources(env.pipelines, 'AWS::IAM::Policy'));
    for (const app of CUTOVER_APPS) expect(starts).toContain(`:project/${cutoverProjectName(config, app.name)}`);
  });

  it('pipelines: one per image, V2, QUEUED, a SERVICE variable, a push trigger on main filtered to the image’s paths, stages in order', () => {
    const pipelines = Object.values(resources(env.pipelines, 'AWS::CodePipeline::Pipeline'));
    expect(pipelines).toHaveLength(IMAGES.length);
    for (const image of IMAGES) {
      const p = pipelines.find((x) => x.Properties.Name === `strangler-${envName}-${image}`)!.Properties;
      const apps = APPS.filter((a) => imageOf(a) === image);
      expect(p.PipelineType).toBe('V2');
      expect(p.ExecutionMode).toBe('QUEUED');
      expect(p.Variables).toEqual([expect.objectContaining({ Name: 'SERVICE', DefaultValue: image })]);
      // The variable is what every build is told (not a project constant beside it), and the image build uses it.
      const builds = p.Stages.flatMap((st: { Actions: any[] }) => st.Actions).filter((a: any) => a.ActionTypeId.Provider === 'CodeBuild');
      expect(builds.length).toBeGreaterThanOrEqual(3);
      for (const b of builds)
        expect(JSON.parse(b.Configuration.EnvironmentVariables), b.Name).toContainEqual({
          name: 'SERVICE',
          type: 'PLAINTEXT',
          value: '#{variables.SERVICE}',
        });
      const projects = resources(env.pipelines, 'AWS::CodeBuild::Project');
      // The pipeline's own projects (the cutover's lives in the services stack, started by its name).
      for (const b of builds.filter((x: any) => typeof x.Configuration.ProjectName !== 'string')) {
        const project = projects[refOf(b.Configuration.ProjectName)]!;
        expect(project.Properties.Environment.EnvironmentVariables.map((v: { Name: string }) => v.Name)).not.toContain('SERVICE');
      }
      const imageBuild = builds.find((b: any) => b.Name === 'Image');
      expect(projects[refOf(imageBuild.Configuration.ProjectName)]!.Properties.Source.BuildSpec).toContain('strangler.service=$SERVICE');
      const cutover = apps.some((a) => CUTOVER_APPS.includes(a)) ? ['Cutover'] : [];
      expect(p.Stages.map((s: { Name: string }) => s.Name)).toEqual(
        envName === 'prod'
          ? ['Source', 'BuildAndTest', 'Image', 'Approve', 'Deploy', 'Record', ...cutover]
          : ['Source', 'BuildAndTest', 'Image', 'Deploy', 'Record', ...cutover],
      );
      // One source, not two: the synthesized stages are the list the local pipeline runs, in its order.
      expect(p.Stages.map((s: { Name: string }) => s.Name)).toEqual(
        stagesFor({ promoted: Boolean(config.promotedFrom), cutover: cutover.length > 0 }).map((s) => s.name),
      );
      const buildAndTest = builds.find((b: any) => b.Name === 'BuildAndTest');
      const testSpec = JSON.parse(projects[refOf(buildAndTest.Configuration.ProjectName)]!.Properties.Source.BuildSpec);
      expect(testSpec.phases.install.commands).toEqual(BUILD_AND_TEST.install);
      expect(testSpec.phases.build.commands).toEqual(BUILD_AND_TEST.build);
      const pushes = p.Triggers[0].GitConfiguration.Push as { Branches: { Includes: string[] }; FilePaths: { Includes: string[] } }[];
      for (const push of pushes) {
        expect(push.Branches.Includes).toEqual([config.source.branch]);
        // CodePipeline refuses a filter of more than 8 paths (GitFilePathFilterCriteria).
        expect(push.FilePaths.Includes.length).toBeLessThanOrEqual(8);
      }
      expect(pushes.length).toBeLessThanOrEqual(3);
      const paths = pushes.flatMap((push) => push.FilePaths.Includes);
      expect(paths).toEqual(triggerPaths(apps));
      expect(paths).toContain(`${apps[0]!.folder}/**`);
      // A change to the contract suites or the journeys runs them against every service.
      expect(paths).toContain('contract-tests/**');
      // Deploy: one ECS action per app of the image, each reading its own image definitions.
      const deploys = p.Stages.find((s: { Name: string }) => s.Name === 'Deploy').Actions;
      expect(deploys.map((a: { ActionTypeId: { Provider: string } }) => a.ActionTypeId.Provider)).toEqual(apps.map(() => 'ECS'));
      expect(deploys.map((a: { Configuration: { FileName: string } }) => a.Configuration.FileName)).toEqual(apps.map(imageFileOf));
    }
  });

  it('when a pipeline’s source action reads the repository through the connection (ARN prefix `codeconnections`), then its role may UseConnection under both service prefixes, on that connection only', () => {
    // AWS CodeConnections docs: connections made since the rename carry `arn:aws:codeconnections:…`,
    // and a policy must grant `codeconnections:UseConnection` for them (CDK grants only
    // `codestar-connections:UseConnection`).
    expect(config.source.connectionArn).toMatch(/^arn:aws:codeconnections:/);
    const roles = resources(env.pipelines, 'AWS::IAM::Role');
    const policies = Object.values(resources(env.pipelines, 'AWS::IAM::Policy'));
    for (const p of Object.values(resources(env.pipelines, 'AWS::CodePipeline::Pipeline'))) {
      const source = p.Properties.Stages[0].Actions[0];
      expect(source.ActionTypeId).toMatchObject({ Category: 'Source', Provider: 'CodeStarSourceConnection' });
      const role = getAttOf(source.RoleArn);
      expect(roles[role]).toBeDefined();
      const statements = policies
        .filter((x) => x.Properties.Roles.some((r: unknown) => refOf(r) === role))
        .flatMap((x) => x.Properties.PolicyDocument.Statement)
        .filter((st) => [st.Action].flat().some((a: string) => a.endsWith(':UseConnection')));
      const granted = statements.flatMap((st) => [st.Action].flat().map((a: string) => `${a} ${st.Resource}`)).sort();
      expect(granted).toEqual([
        `codeconnections:UseConnection ${config.source.connectionArn}`,
        `codestar-connections:UseConnection ${config.source.connectionArn}`,
      ]);
    }
  });

  it('when BuildAndTest runs the tests, then it runs them on Node 24 (the project’s engines), not the Node 22 a CodeBuild runtime pin gave', () => {
    const projects = Object.entries(resources(env.pipelines, 'AWS::CodeBuild::Project')).filter(([k]) => /PipelineBuildAndTest/.test(k));
    expect(projects).toHaveLength(IMAGES.length);
    const engines = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).engines.node as string;
    expect(engines).toMatch(/^>=24\./);
    for (const [, project] of projects) {
      expect(project.Properties.Environment.Image).toMatch(/^public\.ecr\.aws\/docker\/library\/node:24[-.]/);
      const spec = JSON.parse(project.Properties.Source.BuildSpec);
      expect(spec.phases.install['runtime-versions']).toBeUndefined();
      expect(spec.phases.install.commands[0]).toContain('^v24');
      // Through npm scripts: the Node the workspace pins comes first on their PATH.
      expect(spec.phases.build.commands.join('\n')).not.toContain('npx vitest');
    }
  });

  it('when a push reaches main, then dev deploys it at once but prod only once a person approved it, shown the commit and dev’s run of it (gate passed, tag recorded)', () => {
    for (const image of IMAGES) {
      const p = Object.values(resources(env.pipelines, 'AWS::CodePipeline::Pipeline')).find(
        (x) => x.Properties.Name === `strangler-${envName}-${image}`,
      )!.Properties;
      const names = p.Stages.map((s: { Name: string }) => s.Name);
      if (envName === 'dev') {
        expect(names).not.toContain('Approve');
        continue;
      }
      // Approval stands between the image and its deployment.
      expect(names.indexOf('Approve')).toBe(names.indexOf('Deploy') - 1);
      const [approval] = p.Stages.find((s: { Name: string }) => s.Name === 'Approve').Actions;
      expect(approval.ActionTypeId).toMatchObject({ Category: 'Approval', Provider: 'Manual' });
      expect(approval.Configuration.CustomData).toContain('#{Source.CommitId}');
      expect(approval.Configuration.CustomData).toContain(`strangler-dev-${image}`);
      expect(approval.Configuration.CustomData).toContain(`/strangler/dev/image-tag/${image}`);
      expect(approval.Configuration.ExternalEntityLink).toContain(`/pipelines/strangler-dev-${image}/executions`);
      // The commit variable exists: the source action publishes its namespace.
      expect(p.Stages[0].Actions[0].Namespace).toBe('Source');
    }
  });

  it('when a blue/green deployment runs its gate and bakes, then it all fits in the deploy action’s limit, with the allowance for tasks to start and traffic to move', () => {
    const projects = Object.entries(resources(env.services, 'AWS::CodeBuild::Project')).filter(([k]) => /GateTests/.test(k));
    expect(projects).toHaveLength(BLUE_GREEN_APPS.length);
    const deploys = Object.values(resources(env.pipelines, 'AWS::CodePipeline::Pipeline'))
      .flatMap((p) => p.Properties.Stages.find((s: { Name: string }) => s.Name === 'Deploy').Actions)
      .map((a: { Configuration: { DeploymentTimeout: string } }) => Number(a.Configuration.DeploymentTimeout));
    expect(deploys.length).toBeGreaterThan(0);
    for (const [, project] of projects) {
      const needed = DEPLOYMENT_ALLOWANCE_MINUTES + project.Properties.TimeoutInMinutes + config.bakeTimeMinutes;
      for (const limit of deploys)
        expect(needed, `gate ${project.Properties.TimeoutInMinutes} + bake ${config.bakeTimeMinutes}`).toBeLessThanOrEqual(limit);
    }
    // 60 minutes is the most the ECS deploy action can wait.
    expect(Math.max(...deploys)).toBeLessThanOrEqual(60);
    expect(DEPLOYMENT_ALLOWANCE_MINUTES).toBeGreaterThanOrEqual(10);
  });

  it('when the Image stage runs again for a commit already pushed (tags are immutable), then it keeps that image instead of failing on the push', () => {
    const projects = Object.entries(resources(env.pipelines, 'AWS::CodeBuild::Project')).filter(([k]) => /PipelineImage/.test(k));
    expect(projects).toHaveLength(IMAGES.length);
    for (const [, project] of projects) {
      const build = JSON.parse(project.Properties.Source.BuildSpec).phases.build.commands.join('\n') as string;
      // The push happens only on the branch where the tag was not found.
      expect(build).toMatch(
        /^if aws ecr describe-images --repository-name "\$REPOSITORY_NAME" --image-ids imageTag="\$TAG" .*; then .*; else docker build .* && docker push "\$REPOSITORY_URI:\$TAG"; fi$/,
      );
      expect(build.match(/docker push/g)).toHaveLength(1);
      const role = getAttOf(project.Properties.ServiceRole);
      const actions = Object.values(resources(env.pipelines, 'AWS::IAM::Policy'))
        .filter((x) => x.Properties.Roles.some((r: unknown) => refOf(r) === role))
        .flatMap((x) => x.Properties.PolicyDocument.Statement)
        .flatMap((st) => [st.Action].flat());
      expect(actions).toContain('ecr:DescribeImages');
    }
  });

  it('the image build writes each app’s image definitions for every container that runs the image', () => {
    const projects = Object.entries(resources(env.pipelines, 'AWS::CodeBuild::Project')).filter(([k]) => /PipelineImage/.test(k));
    expect(projects).toHaveLength(IMAGES.length);
    for (const app of APPS) {
      const [, project] = projects.find(([k]) => k.startsWith(`${imageOf(app)}Pipeline`))!;
      const spec = JSON.parse(project.Properties.Source.BuildSpec);
      const line = spec.phases.post_build.commands.find((c: string) => c.endsWith(imageFileOf(app)));
      expect(JSON.parse(line.match(/echo '(.*)' \|/)[1]).map((d: { name: string }) => d.name)).toEqual(containersOf(app));
    }
  });
});

describe('a stack update never moves traffic or images (CloudFormation and ECS never fight over them)', () => {
  // What a later `cdk deploy` would change that has nothing to do with routing or images.
  const later = buildApp({ configure: (c) => ({ ...c, bakeTimeMinutes: c.bakeTimeMinutes + 5, logRetentionDays: 30 }) }).stacks;
  const propertiesOf = (stack: Stack, type: string) =>
    Object.fromEntries(
      Object.entries(Template.fromStack(stack).toJSON().Resources as Resources)
        .filter(([, r]) => r.Type === type)
        .map(([id, r]) => [id, r.Properties]),
    );

  it.each(ENVS)(
    '%s: when an unrelated setting changes, then the listener rules, the task definitions, the image-tag parameters and the repositories’ lifecycle synthesize exactly as before (CloudFormation updates nothing of them)',
    (e) => {
      const sameIn = (pick: (s: SystemStacks) => Stack, type: string) => {
        const before = propertiesOf(pick(stacks[e]), type);
        expect(Object.keys(before).length, type).toBeGreaterThan(0);
        expect(propertiesOf(pick(later[e]), type), type).toEqual(before);
      };
      sameIn((s) => s.services, 'AWS::ElasticLoadBalancingV2::ListenerRule');
      sameIn((s) => s.services, 'AWS::ECS::TaskDefinition');
      sameIn((s) => s.registry, 'AWS::SSM::Parameter');
      sameIn((s) => s.registry, 'AWS::ECR::Repository');
      // The change did reach the stack: the comparison is not of two identical apps.
      const services = (a: Record<string, SystemStacks>) => propertiesOf(a[e]!.services, 'AWS::ECS::Service');
      expect(services(later)).not.toEqual(services(stacks));
      // Even the services it did change keep their load balancer wiring (blue, green, both rules) and task definition.
      const wiring = (a: Record<string, SystemStacks>) =>
        Object.fromEntries(Object.entries(services(a)).map(([id, p]) => [id, { lb: p.LoadBalancers, task: p.TaskDefinition }]));
      expect(wiring(later)).toEqual(wiring(stacks));
    },
  );

  it.each(ENVS)(
    '%s: when CloudFormation deploys a task definition, then its image tag is the one the image’s pipeline recorded (a parameter read at deploy time), never a tag in the template',
    (e) => {
      const services = template(stacks[e].services).toJSON();
      const parameters = services.Parameters as Record<string, { Type: string; Default: string }>;
      for (const task of Object.values(resources(stacks[e].services, 'AWS::ECS::TaskDefinition')))
        for (const c of task.Properties.ContainerDefinitions) {
          const [, parts] = c.Image['Fn::Join'] as [string, unknown[]];
          const tag = parts.at(-1) as { Ref: string };
          expect(parts.at(-2)).toMatch(/:$/);
          expect(parameters[tag.Ref]!.Type).toBe('AWS::SSM::Parameter::Value<String>');
          expect(parameters[tag.Ref]!.Default).toMatch(new RegExp(`^/strangler/${e}/image-tag/(${IMAGES.join('|')})$`));
        }
      // The registry stack makes each parameter once, with the bootstrap tag the first deployment runs.
      const names = Object.values(resources(stacks[e].registry, 'AWS::SSM::Parameter')).map((p) => [p.Properties.Name, p.Properties.Value]);
      expect(names.sort()).toEqual(IMAGES.map((i) => [`/strangler/${e}/image-tag/${i}`, 'bootstrap']).sort());
      // Each pipeline records the tag after its Deploy stage passed, into its own image's parameter only.
      for (const image of IMAGES) {
        const p = Object.values(resources(stacks[e].pipelines, 'AWS::CodePipeline::Pipeline')).find(
          (x) => x.Properties.Name === `strangler-${e}-${image}`,
        )!.Properties;
        const record = p.Stages.find((st: { Name: string }) => st.Name === 'Record').Actions[0];
        expect(JSON.parse(record.Configuration.EnvironmentVariables)).toContainEqual({
          name: 'TAG',
          type: 'PLAINTEXT',
          value: '#{Image.TAG}',
        });
        const project = resources(stacks[e].pipelines, 'AWS::CodeBuild::Project')[refOf(record.Configuration.ProjectName)]!;
        expect(JSON.stringify(project.Properties.Environment.EnvironmentVariables)).toContain(`/strangler/${e}/image-tag/${image}`);
        expect(JSON.parse(project.Properties.Source.BuildSpec).phases.build.commands.join('\n')).toContain('ssm put-parameter');
        const role = getAttOf(project.Properties.ServiceRole);
        const puts = Object.values(resources(stacks[e].pipelines, 'AWS::IAM::Policy'))
          .filter((x) => x.Properties.Roles.some((r: unknown) => refOf(r) === role))
          .flatMap((x) => x.Properties.PolicyDocument.Statement)
          .filter((st) => [st.Action].flat().includes('ssm:PutParameter'));
        expect(JSON.stringify(puts.map((st) => st.Resource))).toContain(`:parameter/strangler/${e}/image-tag/${image}"`);
        expect(puts).toHaveLength(1);
      }
    },
  );

  it.each(ENVS)(
    '%s: when the registry expires old images, then the bootstrap image is matched first by a rule that keeps it (a lower rule cannot expire it)',
    (e) => {
      for (const r of Object.values(resources(stacks[e].registry, 'AWS::ECR::Repository'))) {
        const rules = JSON.parse(r.Properties.LifecyclePolicy.LifecyclePolicyText).rules as {
          rulePriority: number;
          selection: { tagStatus: string; tagPrefixList?: string[]; countType: string; countNumber: number };
        }[];
        const keep = rules.find((x) => x.selection.tagPrefixList?.includes('bootstrap'))!;
        expect(keep.selection).toMatchObject({ tagStatus: 'tagged', countType: 'imageCountMoreThan', countNumber: 1 });
        const any = rules.find((x) => x.selection.tagStatus === 'any')!;
        expect(keep.rulePriority).toBeLessThan(any.rulePriority);
      }
    },
  );
});

describe('the database connections verify the server (RDS CA bundle, verify-full), never sslmode=no-verify', () => {
  it.each(ENVS)(
    '%s: when any container connects to PostgreSQL, then its URL verifies the certificate and its name against the bundle the container fetched first',
    (e) => {
      const json = JSON.stringify(template(stacks[e].services).toJSON());
      expect(json).not.toContain('no-verify');
      const tasks = Object.values(resources(stacks[e].services, 'AWS::ECS::TaskDefinition'));
      let urls = 0;
      for (const task of tasks)
        for (const c of task.Properties.ContainerDefinitions) {
          const vars = Object.fromEntries((c.Environment ?? []).map((v: { Name: string; Value: unknown }) => [v.Name, v.Value]));
          expect(vars.RDS_CA_URL, c.Name).toBe(
            `https://truststore.pki.rds.amazonaws.com/${configs[e].region}/${configs[e].region}-bundle.pem`,
          );
          expect(vars.RDS_CA_FILE).toBe(RDS_CA_FILE);
          expect(c.Command.slice(0, 2)).toEqual(['sh', '-c']);
          expect(c.Command[2].startsWith(`${FETCH_RDS_CA} && `)).toBe(true);
          for (const [name, value] of Object.entries(vars)) {
            const text = JSON.stringify(value);
            if (!text.includes('postgres://')) continue;
            urls++;
            expect(text, `${c.Name} ${name}`).toMatch(/\?sslmode=verify-full&sslrootcert=\/tmp\/rds-ca\.pem"?\]?\]?\}?$/);
          }
        }
      expect(urls).toBeGreaterThanOrEqual(APPS.length);
    },
  );

  it('when a container starts, then the fetch writes the served bundle where sslrootcert points, pg then verifies with it, and a failed download stops the container naming the bundle', async () => {
    const { spawn } = await import('node:child_process');
    const http = await import('node:http');
    const os = await import('node:os');
    const { parse } = await import('pg-connection-string');
    const pem = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
    const server = http.createServer((req, res) => {
      if (req.url === '/us-east-1-bundle.pem') res.end(pem);
      else res.writeHead(404).end('no such bundle');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rds-ca-'));
    const file = path.join(dir, 'rds-ca.pem');
    // Run as the containers do: the same shell line, the command after it replaced by a marker.
    // Not spawnSync: the server answering the fetch lives in this process's event loop.
    const run = (url: string) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn('sh', ['-c', `${FETCH_RDS_CA} && echo started`], {
          env: { ...process.env, RDS_CA_URL: url, RDS_CA_FILE: file },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    try {
      const ok = await run(`${base}/us-east-1-bundle.pem`);
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stdout.trim()).toBe('started');
      expect(fs.readFileSync(file, 'utf8')).toBe(pem);
      // What node-postgres makes of the deployed URL (its own parser): the bundle as CA, certificates checked.
      const config = parse(`postgres://app@db.internal:5432/app?sslmode=verify-full&sslrootcert=${file}`) as {
        ssl: { ca: string; rejectUnauthorized?: boolean };
      };
      expect(config.ssl.ca).toBe(pem);
      expect(config.ssl.rejectUnauthorized).not.toBe(false);
      fs.rmSync(file);
      const missing = await run(`${base}/nowhere.pem`);
      expect(missing.status).toBe(1);
      expect(missing.stdout).not.toContain('started');
      expect(missing.stderr).toContain(`the RDS CA bundle ${base}/nowhere.pem could not be fetched: HTTP 404`);
      expect(fs.existsSync(file)).toBe(false);
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  it('passes on the whole app: every finding fixed or acknowledged', () => {
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });

  it('every acknowledgement says why', () => {
    const reasons = app.node
      .findAll()
      .flatMap((c) =>
        c.node.metadata
          .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .flatMap((m) => Object.values(m.data as Record<string, string>)),
      );
    expect(reasons.length).toBeGreaterThan(10);
    for (const reason of reasons) expect(reason.length).toBeGreaterThan(30);
  });
});

describe('listeners and listener rules snapshot (a routing change must be deliberate)', () => {
  it('matches', () => {
    const rules = Object.fromEntries(
      ENVS.map((e) => [
        e,
        Object.entries({
          ...resources(stacks[e].services, 'AWS::ElasticLoadBalancingV2::Listener'),
          ...resources(stacks[e].services, 'AWS::ElasticLoadBalancingV2::ListenerRule'),
        })
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([id, r]) => ({ id, type: r.Type.split('::').at(-1), ...r.Properties, Tags: undefined })),
      ]),
    );
    // Logical ids carry construct-path hashes and assets content hashes: keep the readable part.
    const normalised = JSON.parse(
      JSON.stringify(rules)
        .replace(/[0-9a-f]{64}/g, '<asset-hash>')
        .replace(/([A-Za-z]+)[0-9A-F]{8}\b/g, '$1<hash>'),
    );
    expect(normalised).toMatchSnapshot();
  });
});
