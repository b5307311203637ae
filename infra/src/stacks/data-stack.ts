import { Duration, RemovalPolicy, SecretValue, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../environments.ts';
import { acknowledge } from '../nag.ts';
import { APPS } from '../service-catalog.ts';

export interface DataStackProps extends StackProps {
  config: EnvironmentConfig;
  vpc: ec2.IVpc;
}

export const POSTGRES_PORT = 5432;
/** Not Redis's default: the security group is the control, but defaults are what scanners try first. */
export const REDIS_PORT = 6380;
/** The RDS master user: only the init containers log in as it, to make each app's role and database. */
export const DATABASE_ADMIN = 'strangler_admin';

/**
 * What outlives a deployment: PostgreSQL (one RDS instance, a database and a role per app, made by
 * each task's init container), Redis (the proxy's shared state and the session revocations), and the
 * credentials, generated in Secrets Manager and handed to containers as secrets, never as settings.
 */
export class DataStack extends Stack {
  readonly database: rds.DatabaseInstance;
  readonly databaseSecurityGroup: ec2.SecurityGroup;
  readonly redisEndpoint: string;
  readonly redisSecurityGroup: ec2.SecurityGroup;
  readonly redisAuthToken: secretsmanager.Secret;
  /** Per app with a database: `{username, password}` of its own role. */
  readonly appDatabaseSecrets: Readonly<Record<string, secretsmanager.Secret>>;
  /** Keys that sign sessions, shared by every app. */
  readonly sessionSecret: secretsmanager.Secret;
  /** The proxy's admin token (admin writes, preview routing). */
  readonly adminToken: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config, vpc } = props;
    const prod = config.name === 'prod';
    const isolated = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };

    this.databaseSecurityGroup = new ec2.SecurityGroup(this, 'DatabaseSg', {
      vpc,
      description: 'PostgreSQL: reachable from the app tasks only',
      allowAllOutbound: false,
    });
    this.database = new rds.DatabaseInstance(this, 'Postgres', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
      instanceType: new ec2.InstanceType(config.database.instanceType),
      vpc,
      vpcSubnets: isolated,
      securityGroups: [this.databaseSecurityGroup],
      port: POSTGRES_PORT,
      credentials: rds.Credentials.fromGeneratedSecret(DATABASE_ADMIN),
      multiAz: config.database.multiAz,
      deletionProtection: config.database.deletionProtection,
      storageEncrypted: true,
      storageType: rds.StorageType.GP3,
      allocatedStorage: config.database.allocatedStorageGiB,
      maxAllocatedStorage: config.database.allocatedStorageGiB * 4,
      backupRetention: Duration.days(config.database.backupRetentionDays),
      publiclyAccessible: false,
      cloudwatchLogsExports: ['postgresql'],
      enablePerformanceInsights: true,
      autoMinorVersionUpgrade: true,
      removalPolicy: prod ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
    });

    this.redisSecurityGroup = new ec2.SecurityGroup(this, 'RedisSg', {
      vpc,
      description: 'Redis: reachable from the app tasks only',
      allowAllOutbound: false,
    });
    this.redisAuthToken = new secretsmanager.Secret(this, 'RedisAuthToken', {
      description: 'Redis AUTH token (shared by the apps)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    const subnets = new elasticache.CfnSubnetGroup(this, 'RedisSubnets', {
      description: 'Redis in the isolated subnets',
      subnetIds: vpc.selectSubnets(isolated).subnetIds,
    });
    const failover = config.redis.replicas > 0;
    const redis = new elasticache.CfnReplicationGroup(this, 'Redis', {
      replicationGroupDescription: 'strangler: the proxy’s shared state and session revocations',
      engine: 'redis',
      engineVersion: '7.1',
      cacheNodeType: config.redis.nodeType,
      numCacheClusters: 1 + config.redis.replicas,
      automaticFailoverEnabled: failover,
      multiAzEnabled: failover,
      port: REDIS_PORT,
      cacheSubnetGroupName: subnets.ref,
      securityGroupIds: [this.redisSecurityGroup.securityGroupId],
      atRestEncryptionEnabled: true,
      transitEncryptionEnabled: true,
      // A dynamic reference, resolved by CloudFormation: the token never appears in the template.
      authToken: SecretValue.secretsManager(this.redisAuthToken.secretArn).unsafeUnwrap(),
      snapshotRetentionLimit: prod ? 7 : 1,
    });
    this.redisEndpoint = redis.attrPrimaryEndPointAddress;

    const secrets: Record<string, secretsmanager.Secret> = {};
    for (const app of APPS) {
      if (!app.database || secrets[app.database]) continue;
      secrets[app.database] = new secretsmanager.Secret(this, `${app.database}DbCredentials`, {
        description: `PostgreSQL role of the ${app.database} database`,
        generateSecretString: {
          secretStringTemplate: JSON.stringify({ username: app.database }),
          generateStringKey: 'password',
          passwordLength: 32,
          excludePunctuation: true,
        },
      });
    }
    this.appDatabaseSecrets = secrets;
    this.sessionSecret = new secretsmanager.Secret(this, 'SessionSecret', {
      description: 'Keys that sign session tokens (every app)',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    this.adminToken = new secretsmanager.Secret(this, 'AdminToken', {
      description: 'The strangler proxy’s admin token',
      generateSecretString: { passwordLength: 40, excludePunctuation: true },
    });

    // this.database: its generated admin secret is its child.
    for (const secret of [this.database, this.redisAuthToken, this.sessionSecret, this.adminToken, ...Object.values(secrets)]) {
      acknowledge(
        secret,
        'Read by the tasks at start; rotating it needs the init container to re-provision the role (or Redis/session keys rolled in step), which a redeploy does. Automatic rotation is an open decision (migration-plan.md).',
        'AwsSolutions-SMG4',
      );
    }
    acknowledge(
      this.database,
      'The apps authenticate with per-app roles and passwords from Secrets Manager; IAM database authentication would need token refresh in every app.',
      'AwsSolutions-RDS6',
    );
    acknowledge(
      this.database,
      'The standard port keeps every PostgreSQL tool working; only the app tasks’ security group may reach it, from private subnets.',
      'AwsSolutions-RDS11',
    );
    if (!prod) {
      acknowledge(this.database, 'dev runs single-AZ to halve its cost; prod is Multi-AZ.', 'AwsSolutions-RDS3');
      acknowledge(this.database, 'dev is disposable; prod has deletion protection.', 'AwsSolutions-RDS10');
      acknowledge(redis, 'dev runs one Redis node; prod has a replica with automatic failover across AZs.', 'AwsSolutions-AEC4');
    }
  }
}
