import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { AppTask, type AppTaskBase } from '../constructs/app-task.ts';
import { BlueGreenService } from '../constructs/blue-green-service.ts';
import { ProxyService } from '../constructs/proxy-service.ts';
import { ReplicatorService, replicatorUrl } from '../constructs/replicator-service.ts';
import { RouteCutover } from '../constructs/route-cutover.ts';
import { gateSourcesBucketName, TestGate } from '../constructs/test-gate.ts';
import type { EnvironmentConfig } from '../environments.ts';
import { acknowledge } from '../nag.ts';
import { APPS, BLUE_GREEN_APPS, CUTOVER_APPS, imageOf, type DeployedApp } from '../service-catalog.ts';
import { DATABASE_ADMIN, POSTGRES_PORT, REDIS_PORT, type DataStack } from './data-stack.ts';
import { imageTagParameterName } from './registry-stack.ts';

export { SERVICE_NAMESPACE } from '../constructs/replicator-service.ts';

export interface ServicesStackProps extends StackProps {
  config: EnvironmentConfig;
  vpc: ec2.IVpc;
  data: DataStack;
  repositories: Readonly<Record<string, ecr.IRepository>>;
}

/** The internal load balancer's ports: production listener 8000 + i, test listener 9000 + i, the proxy's 8080. */
export const productionPort = (i: number): number => 8000 + i;
export const testPort = (i: number): number => 9000 + i;
export const PROXY_INTERNAL_PORT = 8080;

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
  /** Each deployed commit's source, `sources/<commit>.zip`, put by the pipelines' image builds and read by the gates. */
  readonly gateSources: s3.Bucket;
  readonly proxy: ProxyService;
  readonly replicator: ReplicatorService;
  /** Each extracted service's route cutover, which its pipeline runs after deploying it. */
  readonly cutovers: Readonly<Record<string, RouteCutover>>;

  constructor(scope: Construct, id: string, props: ServicesStackProps) {
    super(scope, id, props);
    const { config, vpc, data } = props;
    const prod = config.name === 'prod';
    const logRetention = config.logRetentionDays as logs.RetentionDays;
    // The tag each image's services run: the pipeline's parameter, read at every stack operation, so
    // a stack update deploys what the pipeline last deployed, never an older or a bootstrap image.
    const imageTagOf = (image: string): string =>
      ssm.StringParameter.valueForStringParameter(this, imageTagParameterName(config.name, image));

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      enableFargateCapacityProviders: true,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
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
    // only the proxy to the replicator (its shadow copies wait on the watermark: the replicator's group).
    const tasksSg = new ec2.SecurityGroup(this, 'TasksSg', { vpc, description: 'The app tasks', allowAllOutbound: true });
    const gatesSg = new ec2.SecurityGroup(this, 'GatesSg', { vpc, description: 'The blue/green test builds', allowAllOutbound: true });
    const publicSg = new ec2.SecurityGroup(this, 'PublicAlbSg', {
      vpc,
      description: 'The internet-facing load balancer',
      allowAllOutbound: true,
    });
    const internalSg = new ec2.SecurityGroup(this, 'InternalAlbSg', {
      vpc,
      description: 'The internal load balancer',
      allowAllOutbound: true,
    });
    publicSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(config.certificateArn ? 443 : 80), 'the public website');
    if (config.certificateArn) publicSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80), 'redirected to HTTPS');
    acknowledge(
      publicSg,
      'The internet-facing load balancer serves the public website; every other group admits named security groups only.',
      'AwsSolutions-EC23',
    );
    const proxy = APPS.find((a) => a.name === 'proxy')!;
    tasksSg.addIngressRule(publicSg, ec2.Port.tcp(proxy.port), 'the proxy, from the public load balancer');
    // Its target group checks health on the admin listener's port, which CDK does not open by itself.
    tasksSg.addIngressRule(publicSg, ec2.Port.tcp(proxy.health.port!), 'the proxy’s health checks, from the public load balancer');
    tasksSg.addIngressRule(internalSg, ec2.Port.tcpRange(3000, 8081), 'the apps, from the internal load balancer');
    internalSg.addIngressRule(tasksSg, ec2.Port.tcp(PROXY_INTERNAL_PORT), 'the proxy’s internal listener, from the apps');
    // remoteRule: the data stack's groups admit the tasks by rules that live here, so the data stack never refers back to this one.
    data.databaseSecurityGroup.addIngressRule(tasksSg, ec2.Port.tcp(POSTGRES_PORT), 'the app tasks', true);
    data.redisSecurityGroup.addIngressRule(tasksSg, ec2.Port.tcp(REDIS_PORT), 'the app tasks', true);

    // The load balancers, their access logs in one bucket.
    const accessLogs = new s3.Bucket(this, 'LoadBalancerLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      lifecycleRules: [{ expiration: Duration.days(config.logRetentionDays) }],
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      autoDeleteObjects: !prod,
    });
    acknowledge(
      accessLogs,
      'This bucket receives the load balancers’ access logs; logging access to it would log the log writes.',
      'AwsSolutions-S1',
    );
    this.publicAlb = new elbv2.ApplicationLoadBalancer(this, 'PublicAlb', {
      vpc,
      internetFacing: true,
      securityGroup: publicSg,
      vpcSubnets: { subnetGroupName: 'public' },
      dropInvalidHeaderFields: true,
    });
    this.internalAlb = new elbv2.ApplicationLoadBalancer(this, 'InternalAlb', {
      vpc,
      internetFacing: false,
      securityGroup: internalSg,
      vpcSubnets: { subnetGroupName: 'app' },
      dropInvalidHeaderFields: true,
    });
    this.publicAlb.logAccessLogs(accessLogs, 'public');
    this.internalAlb.logAccessLogs(accessLogs, 'internal');
    const internalUrl = (port: number): string => `http://${this.internalAlb.loadBalancerDnsName}:${port}`;
    // The monolith and the services: a production and a test listener each, on ports of their own.
    const productionUrls: Record<string, string> = Object.fromEntries(
      BLUE_GREEN_APPS.map((app, i) => [app.name, internalUrl(productionPort(i))]),
    );
    const listeners = BLUE_GREEN_APPS.map((app, i) => {
      const listener = (kind: string, port: number, from: ec2.ISecurityGroup[]): elbv2.ApplicationListener => {
        for (const group of from) internalSg.addIngressRule(group, ec2.Port.tcp(port), `${app.name} ${kind} listener`);
        return this.internalAlb.addListener(`${app.name}${kind}`, {
          port,
          protocol: elbv2.ApplicationProtocol.HTTP,
          open: false,
          defaultAction: elbv2.ListenerAction.fixedResponse(404),
        });
      };
      // The gates reach every production listener too: their proxy sends all but the candidate's group there.
      return {
        app,
        production: listener('Production', productionPort(i), [tasksSg, gatesSg]),
        test: listener('Test', testPort(i), [gatesSg]),
      };
    });

    // What every app's task shares: its image, the database, Redis, the session secret, the proxy's internal URL.
    const shared: Omit<AppTaskBase, 'repository' | 'imageTag'> = {
      database: {
        host: data.database.dbInstanceEndpointAddress,
        port: POSTGRES_PORT,
        adminSecret: data.database.secret!,
        adminUser: DATABASE_ADMIN,
        roleSecrets: data.appDatabaseSecrets,
      },
      environment: { REDIS_URL: `rediss://${data.redisEndpoint}:${REDIS_PORT}`, API_BASE_URL: internalUrl(PROXY_INTERNAL_PORT) },
      secrets: {
        SESSION_SECRET: ecs.Secret.fromSecretsManager(data.sessionSecret),
        REDIS_PASSWORD: ecs.Secret.fromSecretsManager(data.redisAuthToken),
      },
      logRetention,
    };
    // The session cookie is Secure only where users reach the site over HTTPS (an environment with a
    // certificate): a browser never sends a Secure cookie back over plain HTTP, so dev logins would not stick.
    const cookies = (app: DeployedApp): Record<string, string> =>
      'SECURE_COOKIES' in app.env ? { SECURE_COOKIES: config.certificateArn ? 'true' : 'false' } : {};
    const taskOf = (app: DeployedApp): AppTaskBase => ({
      ...shared,
      environment: { ...shared.environment, ...cookies(app) },
      repository: props.repositories[imageOf(app)]!,
      imageTag: imageTagOf(imageOf(app)),
    });
    const services: Record<string, ecs.FargateService> = {};
    const blueGreen: Record<string, BlueGreenService> = {};
    const gates: Record<string, TestGate> = {};
    const sync = APPS.find((a) => a.name === 'sync')!;
    // The fleet's shared route table: the environment's Redis, a prefix of its own.
    const routeStore = {
      url: `rediss://${data.redisEndpoint}:${REDIS_PORT}`,
      authToken: data.redisAuthToken,
      prefix: `strangler:${config.name}:routes`,
    };

    // What the gates test: the source of the commit being deployed, kept as long as a rollback might need it.
    this.gateSources = new s3.Bucket(this, 'GateSources', {
      bucketName: gateSourcesBucketName(config),
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      lifecycleRules: [{ prefix: 'sources/', expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    acknowledge(
      this.gateSources,
      'Holds copies of the repository’s source per commit, written by the pipelines’ image builds and read by the gates only; access logging of it is left to CloudTrail data events.',
      'AwsSolutions-S1',
    );

    // The monolith and the services, each with its test gate.
    listeners.forEach(({ app, production, test }, i) => {
      gates[app.name] = new TestGate(this, `${app.name}Gate`, {
        config,
        service: app.name,
        vpc,
        cluster: this.cluster,
        sources: this.gateSources,
        securityGroup: gatesSg,
        greenUrl: internalUrl(testPort(i)),
        productionUrls,
        logRetention,
      });
      blueGreen[app.name] = new BlueGreenService(this, `${app.name}Service`, {
        app,
        task: new AppTask(this, `${app.name}Task`, { ...taskOf(app), app }),
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

    // The proxy, behind both load balancers.
    this.proxy = new ProxyService(this, {
      app: proxy,
      config,
      vpc,
      cluster: this.cluster,
      capacity,
      task: taskOf(proxy),
      tasksSecurityGroup: tasksSg,
      publicAlb: this.publicAlb,
      internalAlb: this.internalAlb,
      internalPort: PROXY_INTERNAL_PORT,
      productionUrls,
      syncStatusUrl: replicatorUrl(sync),
      routeStore,
      adminToken: data.adminToken,
      databaseSecret: data.appDatabaseSecrets.strangler!,
    });
    services.proxy = this.proxy.service;

    // After each service's blue/green deployment its pipeline runs the route cutover of its group.
    const cutoverSg = new ec2.SecurityGroup(this, 'CutoverSg', { vpc, description: 'The route cutover builds', allowAllOutbound: true });
    data.databaseSecurityGroup.addIngressRule(cutoverSg, ec2.Port.tcp(POSTGRES_PORT), 'the route cutover builds', true);
    data.redisSecurityGroup.addIngressRule(cutoverSg, ec2.Port.tcp(REDIS_PORT), 'the route cutover builds', true);
    // Its gate: the journeys through the proxy's internal listener, previewing the group's target.
    internalSg.addIngressRule(cutoverSg, ec2.Port.tcp(PROXY_INTERNAL_PORT), 'the route cutover builds’ journeys');
    this.cutovers = Object.fromEntries(
      CUTOVER_APPS.map((app) => [
        app.name,
        new RouteCutover(this, `${app.name}Cutover`, {
          config,
          service: app.name,
          vpc,
          securityGroup: cutoverSg,
          routeStore,
          database: shared.database,
          databaseSecrets: data.appDatabaseSecrets,
          dataMapping: sync.env.DATA_MAPPING!,
          proxyUrl: internalUrl(PROXY_INTERNAL_PORT),
          adminToken: data.adminToken,
          logRetention,
        }),
      ]),
    );

    // The replicator: reached by the proxy only, found by name.
    this.replicator = new ReplicatorService(this, {
      app: sync,
      vpc,
      cluster: this.cluster,
      task: taskOf(sync),
      admit: this.proxy.securityGroup,
      databaseSecurityGroup: data.databaseSecurityGroup,
      databasePort: POSTGRES_PORT,
      roleSecrets: data.appDatabaseSecrets,
    });
    services.sync = this.replicator.service;
    // The replicator prepares every service database when it starts, and those exist only once each
    // app's init container has run: CloudFormation creates it after the apps' services are stable, so
    // a first deployment cannot trip its circuit breaker (one task, no retry) and roll the stack back.
    for (const app of BLUE_GREEN_APPS) this.replicator.service.node.addDependency(blueGreen[app.name]!.service);

    this.services = services;
    this.blueGreen = blueGreen;
    this.gates = gates;
  }
}
