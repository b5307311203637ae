import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { acknowledge, acknowledgeWildcards } from '../nag.ts';
import { Construct } from 'constructs';
import ts from 'typescript';
import type { EnvironmentConfig } from '../environments.ts';
import { initialRouteTable } from './proxy-service.ts';
import { GATE_COMMANDS } from '../pipeline-stages.ts';

const HANDLER_SOURCE = path.resolve(import.meta.dirname, '../test-gate/hook-handler.ts');

/** The hook's code as the Lambda runtime runs it: the TypeScript source with its types stripped. */
function hookAsset(): string {
  const js = ts.transpileModule(fs.readFileSync(HANDLER_SOURCE, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-gate-'));
  fs.writeFileSync(path.join(dir, 'index.mjs'), js);
  return dir;
}

/**
 * Node 24 with npm 11, as the project needs (no CodeBuild-provided image offers Node 24): Docker's
 * official image through its ECR Public mirror, x86_64 (the embedded PostgreSQL's allowed install
 * script is its linux-x64 package).
 */
export const NODE_24_BUILD_IMAGE = 'public.ecr.aws/docker/library/node:24-bookworm';

/**
 * The longest a gate's build may run (npm ci, a proxy, the contract suites and the journeys: about
 * 10 minutes). The ECS
 * deploy action waits at most 60 minutes for the whole deployment — new tasks healthy, test traffic
 * moved, this gate, production moved, the bake time, the old tasks drained — so the gate's share is
 * bounded: DEPLOY_MINUTES ≥ DEPLOYMENT_ALLOWANCE_MINUTES + GATE_BUILD_MINUTES + the bake time.
 */
export const GATE_BUILD_MINUTES = 20;
/** The ECS deploy action's limit (its maximum). */
export const DEPLOY_MINUTES = 60;
/** Tasks started and twice healthy, the two traffic shifts, the hook's 30 s polls, 30 s of draining, with room. */
export const DEPLOYMENT_ALLOWANCE_MINUTES = 10;

/** The gates' source bucket, by a fixed name both the services stack (gates) and the pipelines stack (image builds) know. */
export const gateSourcesBucketName = (config: Pick<EnvironmentConfig, 'name' | 'account' | 'region'>): string =>
  `strangler-${config.name}-gate-sources-${config.account}-${config.region}`;

/**
 * The gate's route table: the real groups and routes (the production table's template), every other
 * group on the monolith's production listener as the production table starts (the journeys pass in
 * every routing state), and only the candidate's traffic on green — a service's own group served by
 * the green revision's test listener, or, for the monolith, the monolith upstream itself.
 */
export function gateRouteTable(service: string, productionUrls: Readonly<Record<string, string>>, greenUrl: string): string {
  const table = initialRouteTable({ ...productionUrls, [service]: greenUrl });
  if (service === 'monolith') return table;
  const group = new RegExp(`^(  ${service}: \\{ mode: )\\w+(, target: ${service} \\})$`, 'm');
  if (!group.test(table)) throw new Error(`the route table has no group "${service}" to send to green`);
  return table.replace(group, '$1service$2');
}

export interface TestGateProps {
  config: EnvironmentConfig;
  /** The service the gate guards (its group in the route table). */
  service: string;
  vpc: ec2.IVpc;
  /** The cluster the service runs in: the hook reads that service's deployment history. */
  cluster: ecs.ICluster;
  /**
   * Where the pipeline's image build leaves each commit's source (`sources/<commit>.zip`): the gate
   * tests the commit being deployed, with no credentials of its own to a repository host.
   */
  sources: s3.IBucket;
  /** The security group the test build runs in (allowed to the test and the production listeners). */
  securityGroup: ec2.ISecurityGroup;
  /** Where the green revision takes test traffic: the service's test listener. */
  greenUrl: string;
  /** Every app's production listener, so the local proxy routes all but this service there. */
  productionUrls: Record<string, string>;
  logRetention: logs.RetentionDays;
}

/**
 * A service's blue/green test gate: a CodeBuild project that runs the Playwright journeys through a
 * strangler proxy of its own — this service's route group sent to the green revision's test
 * listener, everything else to production — and the Lambda hook that starts it after test traffic
 * has shifted and fails the deployment on a red run (ECS then rolls back; production never moved).
 */
export class TestGate extends Construct {
  readonly project: codebuild.Project;
  readonly hook: lambda.Function;
  readonly target: ecs.DeploymentLifecycleLambdaTarget;
  readonly invokeRole: iam.Role;

  constructor(scope: Construct, id: string, props: TestGateProps) {
    super(scope, id);
    const routes = gateRouteTable(props.service, props.productionUrls, props.greenUrl);
    this.project = new codebuild.Project(this, 'Tests', {
      description: `Journeys against the green revision of ${props.service} (blue/green test gate)`,
      // Every build is started by the hook with `sourceLocationOverride` set to the deployed
      // commit's zip; the project's own location is only the folder those zips are in.
      source: codebuild.Source.s3({ bucket: props.sources, path: 'sources/' }),
      vpc: props.vpc,
      subnetSelection: { subnetGroupName: 'app' },
      securityGroups: [props.securityGroup],
      environment: {
        buildImage: codebuild.LinuxBuildImage.fromDockerRegistry(NODE_24_BUILD_IMAGE),
        computeType: codebuild.ComputeType.MEDIUM,
      },
      timeout: Duration.minutes(GATE_BUILD_MINUTES),
      logging: { cloudWatch: { logGroup: new logs.LogGroup(this, 'Logs', { retention: props.logRetention }) } },
      buildSpec: codebuild.BuildSpec.fromObject({
        version: '0.2',
        env: { variables: { SERVICE: props.service, ROUTES_YAML: routes } },
        phases: {
          install: {
            // No apt step: the journeys resolve Chromium as CHROMIUM_PATH, then the system's, then the
            // Linux x64 build inside the @sparticuz/chromium devDependency that npm ci installs.
            commands: ['npm ci --no-audit --no-fund'],
          },
          build: {
            commands: [
              // A proxy of the gate's own: the candidate's traffic to green, every other group on production.
              `printf '%s' "$ROUTES_YAML" > /tmp/routes.yaml`,
              'ROUTES_FILE=/tmp/routes.yaml PROXY_PORT=8080 ADMIN_PORT=8081 node strangler-proxy/src/main.ts > /tmp/proxy.log 2>&1 &',
              // Journeys only once the proxy answers (its health probe), not after a guessed pause; its log when it never does.
              `for i in $(seq 1 30); do node -e "fetch('http://127.0.0.1:8081/__strangler/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" && break; if [ "$i" = 30 ]; then cat /tmp/proxy.log; exit 1; fi; sleep 1; done`,
              // The gate of the one stage list: the contract suites a deployment can serve, then the journeys.
              `export E2E_BASE_URL=http://127.0.0.1:8080 && ${GATE_COMMANDS.join(' && ')}`,
            ],
          },
        },
      }),
    });

    // Any commit's zip (the project's own location above grants only the folder's key).
    props.sources.grantRead(this.project, 'sources/*');

    acknowledge(
      this.project,
      'The gate needs Node 24, which no CodeBuild-provided image carries; it runs Docker’s official Node image, pinned by major tag.',
      'AwsSolutions-CB5',
    );

    this.hook = new lambda.Function(this, 'Hook', {
      description: `POST_TEST_TRAFFIC_SHIFT gate of ${props.service}: runs the journeys, fails the deployment on a red run`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(hookAsset()),
      timeout: Duration.seconds(30),
      environment: { PROJECT_NAME: this.project.projectName, SOURCE_BUCKET: props.sources.bucketName },
      logGroup: new logs.LogGroup(this, 'HookLogs', { retention: props.logRetention }),
    });
    // Least privilege: start and read this project's builds, and read this service's deployments.
    this.hook.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['codebuild:StartBuild', 'codebuild:BatchGetBuilds'], resources: [this.project.projectArn] }),
    );
    // DescribeServiceDeployments is authorised on the service and on its service-deployment resources
    // (Service Authorization Reference, Amazon ECS: both resource types required).
    const ecsArn = (resource: string, name: string): string =>
      Stack.of(this).formatArn({ service: 'ecs', resource, resourceName: name, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const servicePath = `${props.cluster.clusterName}/${props.service}`;
    this.hook.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ecs:DescribeServiceDeployments'],
        resources: [ecsArn('service', servicePath), ecsArn('service-deployment', `${servicePath}/*`)],
      }),
    );
    // The green revision's image (its tag is the commit): DescribeServiceRevisions, likewise on the
    // service and its service-revision resources.
    this.hook.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ecs:DescribeServiceRevisions'],
        resources: [ecsArn('service', servicePath), ecsArn('service-revision', `${servicePath}/*`)],
      }),
    );
    acknowledgeWildcards(this.hook, [
      {
        finding: /^Resource::arn:<AWS::Partition>:ecs:[^:]+:[^:]+:service-(deployment|revision)\/<\w+>\/[\w-]+\/\*$/,
        reason: 'Each deployment and revision of this one service has an id of its own, known only when ECS makes it.',
      },
    ]);
    // The role ECS assumes to call the hook: invoke this function, no version or alias wildcard
    // (CDK's default role would grant `<function>:*`).
    this.invokeRole = new iam.Role(this, 'InvokeRole', {
      assumedBy: new iam.ServicePrincipal('ecs.amazonaws.com'),
      description: `ECS calls the ${props.service} test gate`,
    });
    this.invokeRole.addToPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.hook.functionArn] }));
    this.target = new ecs.DeploymentLifecycleLambdaTarget(this.hook, 'PostTestTrafficShift', {
      lifecycleStages: [ecs.DeploymentLifecycleStage.POST_TEST_TRAFFIC_SHIFT],
      role: this.invokeRole,
    });

    acknowledge(
      this.hook,
      'AWSLambdaBasicExecutionRole only lets the hook write its own logs.',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    );
    acknowledge(
      this.project,
      'The build reads this repository and writes nothing but its logs; the default (AWS-managed) encryption of its artifacts is enough.',
      'AwsSolutions-CB4',
    );
  }
}
