import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { renderRouteTable, type ServiceName } from '@strangler/stack';
import type { Construct } from 'constructs';
import { APP_CONTAINER, AppTask, databaseUrl, type DatabaseAccess } from '../constructs/app-task.ts';
import { BlueGreenService } from '../constructs/blue-green-service.ts';
import { TestGate } from '../constructs/test-gate.ts';
import type { EnvironmentConfig } from '../environments.ts';
import { acknowledge } from '../nag.ts';
import { APPS, BLUE_GREEN_APPS, commandOf, imageOf, SYNC_DATABASES, type DeployedApp } from '../service-catalog.ts';
import { DATABASE_ADMIN, POSTGRES_PORT, REDIS_PORT, type DataStack } from './data-stack.ts';

export interface ServicesStackProps extends StackProps {
  config: EnvironmentConfig;
  vpc: ec2.IVpc;
  data: DataStack;
  repositories: Readonly<Record<string, ecr.IRepository>>;
  /** The image tag CloudFormation deploys (default `bootstrap`); pipelines deploy commit tags after. */
  imageTag?: string;
}

/** The internal load balancer's ports: production listener 8000 + i, test listener 9000 + i, the proxy's 8080. */
export const productionPort = (i: number): number => 8000 + i;
export const testPort = (i: number): number => 9000 + i;
export const PROXY_INTERNAL_PORT = 8080;
/** The private DNS namespace (a Route 53 private hosted zone of the VPC) the proxy finds the replicator in: `sync.strangler.internal`. */
export const SERVICE_NAMESPACE = 'strangler.internal';

/**
 * The running system: an ECS cluster (Fargate and Fargate Spot), the strangler proxy behind the
 * internet-facing load balancer (autoscaled on CPU and requests), the replicator, and the monolith
 * and each extracted service behind the internal load balancer, each released by ECS-native
 * blue/green with its test gate. The proxy reaches them — and they reach each other — through it.
 */
export class ServicesStack extends Stack {
  readonly cluster: ecs.Cluster;
  readonly publicAlb: elbv2.ApplicationLoadBalancer;
  readonly internalAlb: elbv2.ApplicationLoadBalancer;
  readonly services: Readonly<Record<string, ecs.FargateService>>;
  readonly blueGreen: Readonly<Record<string, BlueGreenService>>;
  readonly gates: Readonly<Record<string, TestGate>>;

  constructor(scope: Construct, id: string, props: ServicesStackProps) {
    super(scope, id, props);
    const { config, vpc, data } = props;
    const prod = config.name === 'prod';
    const logRetention = config.logRetentionDays as logs.RetentionDays;
    const imageTag = props.imageTag ?? 'bootstrap';

    this.cluster = new ecs.Cluster(this, 'Cluster', { vpc, enableFargateCapacityProviders: true, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const capacity: ecs.CapacityProviderStrategy[] = prod
      ? [
          { capacityProvider: 'FARGATE', base: 2, weight: 3 },
          { capacityProvider: 'FARGATE_SPOT', weight: 1 },
        ]
      : [
          { capacityProvider: 'FARGATE', base: 1, weight: 1 },
          { capacityProvider: 'FARGATE_SPOT', weight: 3 },
        ];

    // Who may talk to whom: the internet to the public ALB; the ALBs to the tasks; the tasks to the
    // internal ALB's production listeners, PostgreSQL and Redis; only the test gates to the test listeners;
    // only the proxy to the replicator (its shadow copies wait on the watermark).
    const tasksSg = new ec2.SecurityGroup(this, 'TasksSg', { vpc, description: 'The app tasks', allowAllOutbound: true });
    const proxySg = new ec2.SecurityGroup(this, 'ProxySg', { vpc, description: 'The strangler proxy tasks (besides the app tasks group): the one group the replicator admits', allowAllOutbound: true });
    const syncSg = new ec2.SecurityGroup(this, 'SyncSg', { vpc, description: 'The replicator', allowAllOutbound: true });
    const gatesSg = new ec2.SecurityGroup(this, 'GatesSg', { vpc, description: 'The blue/green test builds', allowAllOutbound: true });
    const publicSg = new ec2.SecurityGroup(this, 'PublicAlbSg', { vpc, description: 'The internet-facing load balancer', allowAllOutbound: true });
    const internalSg = new ec2.SecurityGroup(this, 'InternalAlbSg', { vpc, description: 'The internal load balancer', allowAllOutbound: true });
    publicSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(config.certificateArn ? 443 : 80), 'the public website');
    if (config.certificateArn) publicSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80), 'redirected to HTTPS');
    acknowledge(publicSg, 'The internet-facing load balancer serves the public website; every other group admits named security groups only.', 'AwsSolutions-EC23');
    const proxy = APPS.find((a) => a.name === 'proxy')!;
    tasksSg.addIngressRule(publicSg, ec2.Port.tcp(proxy.port), 'the proxy, from the public load balancer');
    // Its target group checks health on the admin listener's port, which CDK does not open by itself.
    tasksSg.addIngressRule(publicSg, ec2.Port.tcp(proxy.health.port!), 'the proxy’s health checks, from the public load balancer');
    tasksSg.addIngressRule(internalSg, ec2.Port.tcpRange(3000, 8081), 'the apps, from the internal load balancer');
    internalSg.addIngressRule(tasksSg, ec2.Port.tcp(PROXY_INTERNAL_PORT), 'the proxy’s internal listener, from the apps');
    // remoteRule: the data stack's groups admit the tasks by rules that live here, so the data stack never refers back to this one.
    data.databaseSecurityGroup.addIngressRule(tasksSg, ec2.Port.tcp(POSTGRES_PORT), 'the app tasks', true);
    data.redisSecurityGroup.addIngressRule(tasksSg, ec2.Port.tcp(REDIS_PORT), 'the app tasks', true);
    const sync = APPS.find((a) => a.name === 'sync')!;
    syncSg.addIngressRule(proxySg, ec2.Port.tcp(sync.port), 'the replicator’s watermark, from the proxy');
    data.databaseSecurityGroup.addIngressRule(syncSg, ec2.Port.tcp(POSTGRES_PORT), 'the replicator', true);
    // The replicator has no load balancer: the proxy finds its one task by name, sync.strangler.internal
    // (an A record ECS keeps on the task's address), in a private hosted zone of this VPC only.
    const namespace = new servicediscovery.PrivateDnsNamespace(this, 'Namespace', { name: SERVICE_NAMESPACE, vpc, description: 'Names the proxy finds the replicator by' });
    const syncUrl = `http://${sync.name}.${SERVICE_NAMESPACE}:${sync.port}`;

    const accessLogs = new s3.Bucket(this, 'LoadBalancerLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      lifecycleRules: [{ expiration: Duration.days(config.logRetentionDays) }],
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      autoDeleteObjects: !prod,
    });
    acknowledge(accessLogs, 'This bucket receives the load balancers’ access logs; logging access to it would log the log writes.', 'AwsSolutions-S1');
    this.publicAlb = new elbv2.ApplicationLoadBalancer(this, 'PublicAlb', { vpc, internetFacing: true, securityGroup: publicSg, vpcSubnets: { subnetGroupName: 'public' }, dropInvalidHeaderFields: true });
    this.internalAlb = new elbv2.ApplicationLoadBalancer(this, 'InternalAlb', { vpc, internetFacing: false, securityGroup: internalSg, vpcSubnets: { subnetGroupName: 'app' }, dropInvalidHeaderFields: true });
    this.publicAlb.logAccessLogs(accessLogs, 'public');
    this.internalAlb.logAccessLogs(accessLogs, 'internal');
    const internalUrl = (port: number): string => `http://${this.internalAlb.loadBalancerDnsName}:${port}`;

    const db: DatabaseAccess = {
      host: data.database.dbInstanceEndpointAddress,
      port: POSTGRES_PORT,
      adminSecret: data.database.secret!,
      adminUser: DATABASE_ADMIN,
      roleSecrets: data.appDatabaseSecrets,
    };
    const shared = {
      environment: { REDIS_URL: `rediss://${data.redisEndpoint}:${REDIS_PORT}`, API_BASE_URL: internalUrl(PROXY_INTERNAL_PORT) },
      secrets: { SESSION_SECRET: ecs.Secret.fromSecretsManager(data.sessionSecret), REDIS_PASSWORD: ecs.Secret.fromSecretsManager(data.redisAuthToken) },
    };
    const task = (app: DeployedApp, extra: { command?: string[]; environment?: Record<string, string>; secrets?: Record<string, ecs.Secret> } = {}): AppTask =>
      new AppTask(this, `${app.name}Task`, {
        app,
        ...(extra.command ? { command: extra.command } : {}),
        repository: props.repositories[imageOf(app)]!,
        imageTag,
        database: db,
        environment: { ...shared.environment, ...extra.environment },
        secrets: { ...shared.secrets, ...extra.secrets },
        logRetention,
      });

    // The monolith and the services: a production and a test listener each, on ports of their own.
    const productionUrls: Record<string, string> = {};
    const listeners = BLUE_GREEN_APPS.map((app, i) => {
      const listener = (kind: string, port: number, from: ec2.ISecurityGroup): elbv2.ApplicationListener => {
        internalSg.addIngressRule(from, ec2.Port.tcp(port), `${app.name} ${kind} listener`);
        return this.internalAlb.addListener(`${app.name}${kind}`, { port, protocol: elbv2.ApplicationProtocol.HTTP, open: false, defaultAction: elbv2.ListenerAction.fixedResponse(404) });
      };
      productionUrls[app.name] = internalUrl(productionPort(i));
      return { app, production: listener('Production', productionPort(i), tasksSg), test: listener('Test', testPort(i), gatesSg) };
    });
    const services: Record<string, ecs.FargateService> = {};
    const blueGreen: Record<string, BlueGreenService> = {};
    const gates: Record<string, TestGate> = {};
    listeners.forEach(({ app, production, test }, i) => {
      gates[app.name] = new TestGate(this, `${app.name}Gate`, { config, service: app.name, vpc, securityGroup: gatesSg, greenUrl: internalUrl(testPort(i)), productionUrls, logRetention });
      blueGreen[app.name] = new BlueGreenService(this, `${app.name}Service`, {
        app,
        task: task(app),
        cluster: this.cluster,
        vpc,
        securityGroup: tasksSg,
        productionListener: production,
        testListener: test,
        gate: gates[app.name]!,
        desiredCount: app.tasks[config.name].min,
        maxCount: app.tasks[config.name].max,
        bakeTime: Duration.minutes(config.bakeTimeMinutes),
        capacity,
      });
      services[app.name] = blueGreen[app.name]!.service;
    });

    // The proxy: its route table starts with every group on the monolith; flips change the parameter.
    const routes = new ssm.StringParameter(this, 'RouteTable', {
      description: 'The strangler proxy’s route table (routes.yaml)',
      // The local stack's table, every group on the monolith, the upstreams the production listeners.
      stringValue: renderRouteTable('monolith', productionUrls as Record<'monolith' | ServiceName, string>),
    });
    const proxyTask = task(proxy, {
      // The table arrives as a setting; the proxy reads (and watches) a file.
      command: ['sh', '-c', `printf '%s' "$ROUTES_YAML" > /tmp/routes.yaml && exec ${commandOf(proxy).join(' ')}`],
      environment: {
        ROUTES_FILE: '/tmp/routes.yaml',
        STRANGLER_DATABASE_URL: databaseUrl(db, 'strangler'),
        // Hosts the proxy answers (others: 421): the public name, the public ALB's, and the internal ALB's (the apps call back through it).
        ALLOWED_HOSTS: [config.domainName, this.publicAlb.loadBalancerDnsName, this.internalAlb.loadBalancerDnsName].filter(Boolean).join(','),
        // Shadow copies wait until the replicator has applied every write the monolith's answer may reflect.
        SYNC_STATUS_URL: syncUrl,
        // The proxy's, the replicator's and the database's clocks are three hosts', each kept by Amazon
        // Time Sync (NTP) within about a millisecond of true time: 50 ms covers that with room (a host
        // resyncing after a pause), and costs a copy at most 50 ms more wait, off the request path.
        SHADOW_CLOCK_MARGIN_MS: '50',
      },
      secrets: {
        ROUTES_YAML: ecs.Secret.fromSsmParameter(routes),
        ADMIN_TOKEN: ecs.Secret.fromSecretsManager(data.adminToken),
        STRANGLER_DATABASE_PASSWORD: ecs.Secret.fromSecretsManager(data.appDatabaseSecrets.strangler!, 'password'),
      },
    });
    const proxyService = new ecs.FargateService(this, 'ProxyService', {
      cluster: this.cluster,
      serviceName: 'proxy',
      taskDefinition: proxyTask.taskDefinition,
      desiredCount: proxy.tasks[config.name].min,
      securityGroups: [tasksSg, proxySg],
      vpcSubnets: { subnetGroupName: 'app' },
      capacityProviderStrategies: capacity,
      circuitBreaker: { enable: true, rollback: true },
      minHealthyPercent: 100,
    });
    const proxyTarget = (alb: elbv2.ApplicationLoadBalancer, id: string): elbv2.ApplicationTargetGroup =>
      new elbv2.ApplicationTargetGroup(this, id, {
        vpc,
        port: proxy.port,
        protocol: elbv2.ApplicationProtocol.HTTP,
        targetType: elbv2.TargetType.IP,
        targets: [proxyService.loadBalancerTarget({ containerName: APP_CONTAINER, containerPort: proxy.port })],
        healthCheck: { path: proxy.health.path, port: String(proxy.health.port), healthyThresholdCount: 2, interval: Duration.seconds(10) },
        deregistrationDelay: Duration.seconds(30),
      });
    const publicTargets = proxyTarget(this.publicAlb, 'ProxyPublicTargets');
    if (config.certificateArn) {
      this.publicAlb.addListener('Https', { port: 443, protocol: elbv2.ApplicationProtocol.HTTPS, certificates: [elbv2.ListenerCertificate.fromArn(config.certificateArn)], sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS, open: false, defaultTargetGroups: [publicTargets] });
      this.publicAlb.addListener('Http', { port: 80, open: false, defaultAction: elbv2.ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }) });
    } else {
      this.publicAlb.addListener('Http', { port: 80, open: false, defaultTargetGroups: [publicTargets] });
    }
    this.internalAlb.addListener('ProxyInternal', { port: PROXY_INTERNAL_PORT, protocol: elbv2.ApplicationProtocol.HTTP, open: false, defaultTargetGroups: [proxyTarget(this.internalAlb, 'ProxyInternalTargets')] });
    const proxyScaling = proxyService.autoScaleTaskCount({ minCapacity: proxy.tasks[config.name].min, maxCapacity: proxy.tasks[config.name].max });
    proxyScaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 });
    proxyScaling.scaleOnRequestCount('Requests', { requestsPerTarget: 1000, targetGroup: publicTargets });
    services.proxy = proxyService;

    // The replicator: one task, no load balancer, found by name; a password per database it keeps in step.
    const syncTask = task(sync, {
      environment: Object.fromEntries(SYNC_DATABASES.map((d) => [`${d.toUpperCase()}_DATABASE_URL`, databaseUrl(db, d)])),
      secrets: Object.fromEntries(SYNC_DATABASES.map((d) => [`${d.toUpperCase()}_DATABASE_PASSWORD`, ecs.Secret.fromSecretsManager(data.appDatabaseSecrets[d]!, 'password')])),
    });
    services.sync = new ecs.FargateService(this, 'SyncService', {
      cluster: this.cluster,
      serviceName: 'sync',
      taskDefinition: syncTask.taskDefinition,
      desiredCount: 1,
      securityGroups: [syncSg],
      vpcSubnets: { subnetGroupName: 'app' },
      capacityProviderStrategies: [{ capacityProvider: 'FARGATE', weight: 1 }],
      // A short TTL: a replaced task's new address is seen within seconds.
      cloudMapOptions: { cloudMapNamespace: namespace, name: sync.name, dnsRecordType: servicediscovery.DnsRecordType.A, dnsTtl: Duration.seconds(10) },
      circuitBreaker: { enable: true, rollback: true },
      // One replicator at a time: the old one stops before the new one starts.
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
    });

    this.services = services;
    this.blueGreen = blueGreen;
    this.gates = gates;

  }
}
