import { Stack } from 'aws-cdk-lib';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.ts';
import { commandOf, type DeployedApp } from '../service-catalog.ts';

/** Where an app's database lives and how its task gets in. */
export interface DatabaseAccess {
  host: string;
  port: number;
  /** The admin credentials (`username`, `password`): for the init container only. */
  adminSecret: secretsmanager.ISecret;
  adminUser: string;
  /** `{username, password}` of each database's own role. */
  roleSecrets: Readonly<Record<string, secretsmanager.ISecret>>;
}

export interface AppTaskProps {
  app: DeployedApp;
  repository: ecr.IRepository;
  /** The image tag deployed by CloudFormation; the pipeline deploys later ones. */
  imageTag: string;
  database: DatabaseAccess;
  /** The container's command, when the deployment wraps the catalog's (default: `commandOf(app)`). */
  command?: string[];
  /** More plain settings, and more secrets (name → secret and JSON field). */
  environment?: Record<string, string>;
  secrets?: Record<string, ecs.Secret>;
  logRetention: logs.RetentionDays;
}

/** What every app's task of a stack shares (image source, database, the shared settings and secrets); each app adds its own. */
export type AppTaskBase = Omit<AppTaskProps, 'app' | 'command'>;

/** The container that runs the app, and the init container that makes its database first. */
export const APP_CONTAINER = 'app';
export const INIT_CONTAINER = 'provision';

/** The containers of an app's task that run its image: the app, and the init container when it owns a database. */
export const containersOf = (app: DeployedApp): string[] => [APP_CONTAINER, ...(app.database ? [INIT_CONTAINER] : [])];

/** Where each container keeps the RDS certificate authorities it verifies the database by (`sslrootcert`). */
export const RDS_CA_FILE = '/tmp/rds-ca.pem';

/** AWS's published bundle of the RDS certificate authorities of a region (RDS user guide, "Certificate bundles by AWS Region"). */
export const rdsCaBundleUrl = (region: string): string => `https://truststore.pki.rds.amazonaws.com/${region}/${region}-bundle.pem`;

/**
 * Fetches the bundle (RDS_CA_URL, over HTTPS checked against Node's own CA store) into RDS_CA_FILE
 * before the container's command, and stops the container with a message saying which bundle when
 * it cannot: no image change needed, and never a connection that trusts any certificate.
 */
export const FETCH_RDS_CA = `node -e 'fetch(process.env.RDS_CA_URL).then(r=>{if(!r.ok)throw new Error("HTTP "+r.status);return r.text()}).then(t=>{if(!t.includes("-----BEGIN CERTIFICATE-----"))throw new Error("not a PEM bundle");require("fs").writeFileSync(process.env.RDS_CA_FILE,t)}).catch(e=>{console.error("the RDS CA bundle "+process.env.RDS_CA_URL+" could not be fetched: "+e.message);process.exit(1)})'`;

/** A container command that first fetches the RDS CA bundle. */
export function withRdsCa(command: readonly string[]): string[] {
  if (command[0] === 'sh' && command[1] === '-c' && command.length === 3) return ['sh', '-c', `${FETCH_RDS_CA} && ${command[2]}`];
  return ['sh', '-c', `${FETCH_RDS_CA} && exec ${command.join(' ')}`];
}

/**
 * `postgres://user@host:port/db`, the server's certificate verified against the RDS CA bundle
 * (`verify-full`: its name too); the password comes apart, as DATABASE_PASSWORD (service-kit joins them).
 */
export const databaseUrl = (db: DatabaseAccess, name: string, user = name): string =>
  `postgres://${user}@${db.host}:${db.port}/${name}?sslmode=verify-full&sslrootcert=${RDS_CA_FILE}`;

/**
 * An app's Fargate task definition: ARM64, the catalog's size, logs kept for the environment's
 * retention, secrets as secrets. When the app owns a database, an init container makes its role and
 * database first (service-kit/src/db/provision.ts) — the only container given the admin credentials.
 */
export class AppTask extends Construct {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;

  constructor(scope: Construct, id: string, props: AppTaskProps) {
    super(scope, id);
    const { app, database: db } = props;
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: app.cpu,
      memoryLimitMiB: app.memoryMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    acknowledge(
      this.taskDefinition,
      'Plain settings (ports, hosts, URLs without passwords) are environment variables; every secret is passed as a secret.',
      'AwsSolutions-ECS2',
    );
    const image = ecs.ContainerImage.fromEcrRepository(props.repository, props.imageTag);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    const logging = (prefix: string): ecs.LogDriver => ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: prefix });

    const ca = { RDS_CA_URL: rdsCaBundleUrl(Stack.of(this).region), RDS_CA_FILE };
    const environment: Record<string, string> = { ...app.env, ...props.environment, ...ca };
    const secrets: Record<string, ecs.Secret> = { ...props.secrets };
    if (app.database) {
      environment.DATABASE_URL = databaseUrl(db, app.database);
      secrets.DATABASE_PASSWORD = ecs.Secret.fromSecretsManager(db.roleSecrets[app.database]!, 'password');
    }
    this.container = this.taskDefinition.addContainer(APP_CONTAINER, {
      image,
      command: withRdsCa(props.command ?? commandOf(app)),
      environment,
      secrets,
      logging: logging(app.name),
      portMappings: [{ containerPort: app.port }, ...(app.health.port ? [{ containerPort: app.health.port }] : [])],
      healthCheck: {
        command: [
          'CMD',
          'node',
          '-e',
          `fetch('http://127.0.0.1:${app.health.port ?? app.port}${app.health.path}').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`,
        ],
      },
      readonlyRootFilesystem: false,
    });

    if (app.database) {
      const provision = this.taskDefinition.addContainer(INIT_CONTAINER, {
        image,
        essential: false,
        command: withRdsCa(['node', 'service-kit/src/db/provision.ts']),
        environment: {
          ...ca,
          ADMIN_DATABASE_URL: databaseUrl(db, 'postgres', db.adminUser),
          DATABASE_NAME: app.database,
          DATABASE_USER: app.database,
        },
        secrets: {
          ADMIN_DATABASE_PASSWORD: ecs.Secret.fromSecretsManager(db.adminSecret, 'password'),
          DATABASE_PASSWORD: ecs.Secret.fromSecretsManager(db.roleSecrets[app.database]!, 'password'),
        },
        logging: logging(`${app.name}-provision`),
      });
      this.container.addContainerDependencies({ container: provision, condition: ecs.ContainerDependencyCondition.SUCCESS });
    }
  }
}
