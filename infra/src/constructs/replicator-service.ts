import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import type { Construct } from 'constructs';
import { SYNC_DATABASES, type DeployedApp } from '../service-catalog.ts';
import { AppTask, databaseUrl, type AppTaskBase } from './app-task.ts';

/** The private DNS namespace (a Route 53 private hosted zone of the VPC) the proxy finds the replicator in: `sync.strangler.internal`. */
export const SERVICE_NAMESPACE = 'strangler.internal';

/** Where the proxy reads the replicator's watermark: `http://<name>.strangler.internal:<port>`, from its catalog entry. */
export const replicatorUrl = (app: DeployedApp): string => `http://${app.name}.${SERVICE_NAMESPACE}:${app.port}`;

export interface ReplicatorServiceProps {
  /** The replicator's catalog entry (`sync`). */
  app: DeployedApp;
  vpc: ec2.IVpc;
  cluster: ecs.ICluster;
  /** What every app's task shares; the replicator adds a URL and a password per database it keeps in step. */
  task: AppTaskBase;
  /** The one group the replicator admits, on its port: the proxy's. */
  admit: ec2.ISecurityGroup;
  /** PostgreSQL's group, which admits the replicator by a rule kept in this stack. */
  databaseSecurityGroup: ec2.ISecurityGroup;
  databasePort: number;
  /** `{username, password}` of each database's own role, by database name. */
  roleSecrets: Readonly<Record<string, secretsmanager.ISecret>>;
}

/**
 * The replicator: one Fargate task with no load balancer, in a security group of its own
 * (`SyncSg`) that admits only the proxy on its port, reaching PostgreSQL, and registered in Cloud
 * Map as `sync.strangler.internal` (an A record ECS keeps on the task's address, TTL 10 s) in a
 * private DNS namespace of the VPC.
 *
 * Not a construct level of its own: it builds in `scope` (the stack), so every resource keeps the
 * construct path — hence the logical ID and every generated name — it had before it was grouped
 * here (see `ProxyService`).
 */
export class ReplicatorService {
  readonly service: ecs.FargateService;
  readonly task: AppTask;
  readonly securityGroup: ec2.SecurityGroup;
  readonly namespace: servicediscovery.PrivateDnsNamespace;
  /** `SYNC_STATUS_URL` for the proxy. */
  readonly url: string;

  constructor(scope: Construct, props: ReplicatorServiceProps) {
    const { app, vpc, task: base } = props;
    this.url = replicatorUrl(app);
    this.securityGroup = new ec2.SecurityGroup(scope, 'SyncSg', { vpc, description: 'The replicator', allowAllOutbound: true });
    this.securityGroup.addIngressRule(props.admit, ec2.Port.tcp(app.port), 'the replicator’s watermark, from the proxy');
    // remoteRule: the database's group admits the replicator by a rule that lives here, so the data stack never refers back to this one.
    props.databaseSecurityGroup.addIngressRule(this.securityGroup, ec2.Port.tcp(props.databasePort), 'the replicator', true);
    // No load balancer: the proxy finds the one task by name, in a private hosted zone of this VPC only.
    this.namespace = new servicediscovery.PrivateDnsNamespace(scope, 'Namespace', {
      name: SERVICE_NAMESPACE,
      vpc,
      description: 'Names the proxy finds the replicator by',
    });

    // A URL and a password per database it keeps in step.
    this.task = new AppTask(scope, `${app.name}Task`, {
      ...base,
      app,
      environment: {
        ...base.environment,
        ...Object.fromEntries(SYNC_DATABASES.map((d) => [`${d.toUpperCase()}_DATABASE_URL`, databaseUrl(base.database, d)])),
      },
      secrets: {
        ...base.secrets,
        ...Object.fromEntries(
          SYNC_DATABASES.map((d) => [
            `${d.toUpperCase()}_DATABASE_PASSWORD`,
            ecs.Secret.fromSecretsManager(props.roleSecrets[d]!, 'password'),
          ]),
        ),
      },
    });
    this.service = new ecs.FargateService(scope, 'SyncService', {
      cluster: props.cluster,
      serviceName: app.name,
      taskDefinition: this.task.taskDefinition,
      desiredCount: 1,
      securityGroups: [this.securityGroup],
      vpcSubnets: { subnetGroupName: 'app' },
      capacityProviderStrategies: [{ capacityProvider: 'FARGATE', weight: 1 }],
      // A short TTL: a replaced task's new address is seen within seconds.
      cloudMapOptions: {
        cloudMapNamespace: this.namespace,
        name: app.name,
        dnsRecordType: servicediscovery.DnsRecordType.A,
        dnsTtl: Duration.seconds(10),
      },
      circuitBreaker: { enable: true, rollback: true },
      // One replicator at a time: the old one stops before the new one starts.
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
    });
  }
}
