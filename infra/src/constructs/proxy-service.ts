import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { renderRouteTable, type ServiceName } from '@strangler/reference-migration';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../environments.ts';
import { commandOf, type DeployedApp } from '../service-catalog.ts';
import { APP_CONTAINER, AppTask, databaseUrl, type AppTaskBase } from './app-task.ts';

/**
 * The route table the proxy starts from: the reference migration's groups and routes, every group on
 * the monolith, the upstreams at `urls`. The test gates render theirs from it too.
 */
export const initialRouteTable = (urls: Readonly<Record<string, string>>): string =>
  renderRouteTable('monolith', urls as Record<'monolith' | ServiceName, string>);

export interface ProxyServiceProps {
  /** The proxy's catalog entry. */
  app: DeployedApp;
  config: EnvironmentConfig;
  vpc: ec2.IVpc;
  cluster: ecs.ICluster;
  capacity: ecs.CapacityProviderStrategy[];
  /** What every app's task shares; the proxy adds its route table, admin token and own database. */
  task: AppTaskBase;
  /** The app tasks' group: the proxy tasks carry it besides their own (`ProxySg`). */
  tasksSecurityGroup: ec2.ISecurityGroup;
  publicAlb: elbv2.ApplicationLoadBalancer;
  internalAlb: elbv2.ApplicationLoadBalancer;
  /** The internal load balancer's port the apps call the proxy back on. */
  internalPort: number;
  /** Each app's production listener URL: the upstreams of the initial route table. */
  productionUrls: Readonly<Record<string, string>>;
  /** Where the shadow copies read the replicator's watermark (`SYNC_STATUS_URL`). */
  syncStatusUrl: string;
  /**
   * The fleet's shared route table: the environment's Redis (TLS; its AUTH token a secret), which the
   * tasks' security group already reaches. Every proxy task follows it, so a flip is no redeployment.
   */
  routeStore: { url: string; authToken: secretsmanager.ISecret; prefix: string };
  adminToken: secretsmanager.ISecret;
  /** `{username, password}` of the proxy's own database role (`strangler`). */
  databaseSecret: secretsmanager.ISecret;
}

/**
 * The strangler proxy: its task (the route table from a parameter, written to a file it watches),
 * its Fargate service in the app tasks' group and a group of its own (`ProxySg`, the one the
 * replicator admits), a target group on each load balancer (health on the admin port), the public
 * listeners (HTTPS with an HTTP redirect when the environment has a certificate), the internal
 * listener the apps call back through, and autoscaling on CPU and requests per target.
 *
 * Not a construct level of its own: it builds in `scope` (the stack), so every resource keeps the
 * construct path — hence the logical ID and every generated name — it had before it was grouped
 * here. A new level would rename them all, and CloudFormation would replace them in a deployed
 * stack (the service's fixed name `proxy` would even fail that replacement).
 */
export class ProxyService {
  readonly service: ecs.FargateService;
  readonly task: AppTask;
  readonly securityGroup: ec2.SecurityGroup;
  readonly routes: ssm.StringParameter;
  readonly publicTargets: elbv2.ApplicationTargetGroup;
  readonly internalTargets: elbv2.ApplicationTargetGroup;

  constructor(scope: Construct, props: ProxyServiceProps) {
    const { app, config, vpc, task: base } = props;
    this.securityGroup = new ec2.SecurityGroup(scope, 'ProxySg', {
      vpc,
      description: 'The strangler proxy tasks (besides the app tasks group): the one group the replicator admits',
      allowAllOutbound: true,
    });

    // The table that seeds an empty shared store (every group on the monolith); after that the store
    // is the truth and flips change it there (`strangler flip`), never this parameter.
    this.routes = new ssm.StringParameter(scope, 'RouteTable', {
      description: 'The strangler proxy’s first route table (routes.yaml): seeds the shared store when it is empty',
      // The local stack's table, every group on the monolith, the upstreams the production listeners.
      stringValue: initialRouteTable(props.productionUrls),
    });
    this.task = new AppTask(scope, `${app.name}Task`, {
      ...base,
      app,
      // The seed arrives as a setting; the proxy reads it from a file.
      command: ['sh', '-c', `printf '%s' "$ROUTES_YAML" > /tmp/routes.yaml && exec ${commandOf(app).join(' ')}`],
      environment: {
        ...base.environment,
        ROUTES_FILE: '/tmp/routes.yaml',
        ROUTES_STORE_URL: props.routeStore.url,
        ROUTES_STORE_PREFIX: props.routeStore.prefix,
        STRANGLER_DATABASE_URL: databaseUrl(base.database, 'strangler'),
        // Hosts the proxy answers (others: 421): the public name, the public ALB's, and the internal ALB's (the apps call back through it).
        ALLOWED_HOSTS: [config.domainName, props.publicAlb.loadBalancerDnsName, props.internalAlb.loadBalancerDnsName]
          .filter(Boolean)
          .join(','),
        // Shadow copies wait until the replicator has applied every write the monolith's answer may reflect.
        SYNC_STATUS_URL: props.syncStatusUrl,
        // The proxy's, the replicator's and the database's clocks are three hosts', each kept by Amazon
        // Time Sync (NTP) within about a millisecond of true time: 50 ms covers that with room (a host
        // resyncing after a pause), and costs a copy at most 50 ms more wait, off the request path.
        SHADOW_CLOCK_MARGIN_MS: '50',
      },
      secrets: {
        ...base.secrets,
        ROUTES_YAML: ecs.Secret.fromSsmParameter(this.routes),
        ROUTES_STORE_PASSWORD: ecs.Secret.fromSecretsManager(props.routeStore.authToken),
        ADMIN_TOKEN: ecs.Secret.fromSecretsManager(props.adminToken),
        STRANGLER_DATABASE_PASSWORD: ecs.Secret.fromSecretsManager(props.databaseSecret, 'password'),
      },
    });
    this.service = new ecs.FargateService(scope, 'ProxyService', {
      cluster: props.cluster,
      serviceName: 'proxy',
      taskDefinition: this.task.taskDefinition,
      desiredCount: app.tasks[config.name].min,
      securityGroups: [props.tasksSecurityGroup, this.securityGroup],
      vpcSubnets: { subnetGroupName: 'app' },
      capacityProviderStrategies: props.capacity,
      circuitBreaker: { enable: true, rollback: true },
      minHealthyPercent: 100,
    });

    const targets = (id: string): elbv2.ApplicationTargetGroup =>
      new elbv2.ApplicationTargetGroup(scope, id, {
        vpc,
        port: app.port,
        protocol: elbv2.ApplicationProtocol.HTTP,
        targetType: elbv2.TargetType.IP,
        targets: [this.service.loadBalancerTarget({ containerName: APP_CONTAINER, containerPort: app.port })],
        healthCheck: { path: app.health.path, port: String(app.health.port), healthyThresholdCount: 2, interval: Duration.seconds(10) },
        deregistrationDelay: Duration.seconds(30),
      });
    this.publicTargets = targets('ProxyPublicTargets');
    if (config.certificateArn) {
      props.publicAlb.addListener('Https', {
        port: 443,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [elbv2.ListenerCertificate.fromArn(config.certificateArn)],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        open: false,
        defaultTargetGroups: [this.publicTargets],
      });
      props.publicAlb.addListener('Http', {
        port: 80,
        open: false,
        defaultAction: elbv2.ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }),
      });
    } else {
      props.publicAlb.addListener('Http', { port: 80, open: false, defaultTargetGroups: [this.publicTargets] });
    }
    this.internalTargets = targets('ProxyInternalTargets');
    props.internalAlb.addListener('ProxyInternal', {
      port: props.internalPort,
      protocol: elbv2.ApplicationProtocol.HTTP,
      open: false,
      defaultTargetGroups: [this.internalTargets],
    });

    const scaling = this.service.autoScaleTaskCount({ minCapacity: app.tasks[config.name].min, maxCapacity: app.tasks[config.name].max });
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 });
    scaling.scaleOnRequestCount('Requests', { requestsPerTarget: 1000, targetGroup: this.publicTargets });
  }
}
