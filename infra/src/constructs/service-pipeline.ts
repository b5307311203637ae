import path from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { acknowledge } from '../nag.ts';
import { containersOf } from './app-task.ts';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../environments.ts';
import { CUTOVER_APPS, SHARED_PATHS, type DeployedApp } from '../service-catalog.ts';
import { imageFolders } from '../tools/image-folders.ts';
import { cutoverProjectName } from './route-cutover.ts';
import { sourceKey } from '../test-gate/hook-handler.ts';
import { imageTagParameterName } from '../stacks/registry-stack.ts';
import { DEPLOY_MINUTES, NODE_24_BUILD_IMAGE } from './test-gate.ts';
import { BUILD_AND_TEST, stagesFor, type StageName } from '../pipeline-stages.ts';

export interface ServicePipelineProps {
  config: EnvironmentConfig;
  /** The image this pipeline builds (its SERVICE variable). */
  image: string;
  /** The apps that run the image, each with its ECS service. */
  deploys: readonly { app: DeployedApp; service: ecs.IBaseService }[];
  repository: ecr.IRepository;
  /** The test gates' source bucket: the image build leaves its commit's source there (`sources/<commit>.zip`). */
  gateSources: s3.IBucket;
  logRetention: logs.RetentionDays;
}

const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

/**
 * What every pipeline tests besides its image's own code: the contract suites (BuildAndTest) and
 * the journeys (the gate). A change to them must run them against every service, though no image's
 * content changes.
 */
export const TEST_PATHS = ['contract-tests/**'];

/**
 * The paths a push must touch to run this pipeline: every folder the image holds (its own, the
 * workspaces it needs), what all images share, and the tests every pipeline runs.
 */
export const triggerPaths = (apps: readonly DeployedApp[]): string[] => [
  ...new Set([...apps.flatMap((a) => imageFolders(REPO_ROOT, a.folder)).map((f) => `${f}/**`), ...SHARED_PATHS, ...TEST_PATHS]),
];

/** The most file paths one push filter may hold (CodePipeline API, GitFilePathFilterCriteria: "Maximum number of 8 items"). */
export const MAX_FILE_PATHS = 8;
const chunks = <T>(xs: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(xs.length / size) }, (_, i) => xs.slice(i * size, (i + 1) * size));

/** The console page of a pipeline's runs. */
export const pipelineRunsUrl = (env: { region: string }, pipelineName: string): string =>
  `https://${env.region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/${pipelineName}/executions?region=${env.region}`;

/**
 * The approval a commit waits for before this environment deploys it: the person approving is shown
 * the commit and where the earlier environment's run of the same commit is (its gates' builds, its
 * Record stage, which only a passed deployment reaches), and approves only a commit that passed there.
 */
function promotion(from: { name: string; region: string }, image: string): actions.ManualApprovalAction {
  const earlier = `strangler-${from.name}-${image}`;
  return new actions.ManualApprovalAction({
    actionName: `PassedIn${from.name[0]!.toUpperCase()}${from.name.slice(1)}`,
    additionalInformation:
      `Deploy commit #{Source.CommitId} of ${image}? Approve only if ${earlier} ran this commit through Deploy (its test gate passed) ` +
      `and Record (/strangler/${from.name}/image-tag/${image} names it); reject otherwise.`,
    externalEntityLink: pipelineRunsUrl(from, earlier),
  });
}

/** The image definitions file the deploy action of an app reads. */
export const imageFileOf = (app: DeployedApp): string => `imagedefinitions-${app.name}.json`;

/**
 * One pipeline per image, the same for every service (adding a service is an entry in the
 * catalog): CodePipeline V2, QUEUED (pushes deploy in order, none skipped), a SERVICE variable, and a
 * push trigger on the branch filtered to the paths that change the image. Source → build and unit
 * test → image to ECR (tagged with the commit) → deploy: each ECS service takes the new task
 * definition, and ECS runs its blue/green deployment, test gate included.
 */
export class ServicePipeline extends Construct {
  readonly pipeline: codepipeline.Pipeline;

  constructor(scope: Construct, id: string, props: ServicePipelineProps) {
    super(scope, id);
    const { config, image } = props;
    const folder = props.deploys[0]!.app.folder;
    const source = new codepipeline.Artifact('Source');
    const built = new codepipeline.Artifact('ImageDefinitions');
    // The connection's ARN has the `codeconnections` prefix; CDK grants only the older
    // `codestar-connections:UseConnection`, which IAM does not apply to it: grant both.
    const sourceRole = new iam.Role(this, 'SourceRole', {
      assumedBy: new iam.AccountRootPrincipal(),
      description: `The ${image} pipeline's source action: reads the repository through the connection`,
    });
    sourceRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['codeconnections:UseConnection'], resources: [config.source.connectionArn] }),
    );
    const sourceAction = new actions.CodeStarConnectionsSourceAction({
      role: sourceRole,
      actionName: 'Source',
      connectionArn: config.source.connectionArn,
      owner: config.source.owner,
      repo: config.source.repository,
      branch: config.source.branch,
      output: source,
      // The pipeline's own trigger (below) filters by path; the action must not start runs itself.
      triggerOnPush: false,
      variablesNamespace: 'Source',
    });
    const cutovers = props.deploys.map((d) => d.app).filter((a) => CUTOVER_APPS.includes(a));
    const logGroup = new logs.LogGroup(this, 'BuildLogs', { retention: props.logRetention });
    const project = (
      id: string,
      spec: object,
      opts: { privileged?: boolean; env?: Record<string, string>; buildImage?: codebuild.IBuildImage } = {},
    ): codebuild.PipelineProject =>
      new codebuild.PipelineProject(this, id, {
        environment: {
          buildImage: opts.buildImage ?? codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0,
          computeType: codebuild.ComputeType.MEDIUM,
          privileged: opts.privileged ?? false,
        },
        environmentVariables: Object.fromEntries(Object.entries({ APP: folder, ...opts.env }).map(([k, value]) => [k, { value }])),
        buildSpec: codebuild.BuildSpec.fromObject(spec),
        timeout: Duration.minutes(30),
        logging: { cloudWatch: { logGroup } },
      });
    const test = project(
      'BuildAndTest',
      { version: '0.2', phases: { install: { commands: [...BUILD_AND_TEST.install] }, build: { commands: [...BUILD_AND_TEST.build] } } },
      { buildImage: codebuild.LinuxBuildImage.fromDockerRegistry(NODE_24_BUILD_IMAGE) },
    );
    acknowledge(
      test,
      'The tests need Node 24 (the project’s engines), which no CodeBuild-provided image carries; they run Docker’s official Node image, pinned by major tag.',
      'AwsSolutions-CB5',
    );
    const build = project(
      'Image',
      {
        version: '0.2',
        // The tag, for the stage that records it once the deployment has passed.
        env: { 'exported-variables': ['TAG'] },
        phases: {
          pre_build: {
            commands: [
              'aws ecr get-login-password | docker login --username AWS --password-stdin "${REPOSITORY_URI%%/*}"',
              'TAG=${CODEBUILD_RESOLVED_SOURCE_VERSION}',
              // The gates test this commit: its source, as this build received it, where their hook looks.
              `zip -qr /tmp/source.zip . && aws s3 cp --only-show-errors /tmp/source.zip "s3://$GATE_SOURCES/${sourceKey('$TAG')}"`,
            ],
          },
          // Tags are immutable: a re-run for a commit already pushed (a retried stage, a redeploy)
          // keeps that image instead of failing on the push.
          build: {
            commands: [
              'if aws ecr describe-images --repository-name "$REPOSITORY_NAME" --image-ids imageTag="$TAG" >/dev/null 2>&1; then echo "$SERVICE: $REPOSITORY_URI:$TAG is already pushed: kept"; else docker build --build-arg APP="$APP" --build-arg ENTRY="$ENTRY" --label "strangler.service=$SERVICE" -t "$REPOSITORY_URI:$TAG" . && docker push "$REPOSITORY_URI:$TAG"; fi',
            ],
          },
          // One file per app: its containers that run the image (the init container too, so it never lags).
          post_build: {
            commands: props.deploys.map(
              (d) =>
                `echo '${JSON.stringify(containersOf(d.app).map((name) => ({ name, imageUri: '__IMAGE__' })))}' | sed "s|__IMAGE__|$REPOSITORY_URI:$TAG|g" > ${imageFileOf(d.app)}`,
            ),
          },
        },
        artifacts: { files: props.deploys.map((d) => imageFileOf(d.app)) },
      },
      {
        privileged: true,
        env: {
          REPOSITORY_URI: props.repository.repositoryUri,
          REPOSITORY_NAME: props.repository.repositoryName,
          ENTRY: props.deploys[0]!.app.entry,
          GATE_SOURCES: props.gateSources.bucketName,
        },
      },
    );
    props.repository.grantPullPush(build);
    props.repository.grant(build, 'ecr:DescribeImages');
    props.gateSources.grantPut(build, sourceKey('*'));

    // Once every service of the image runs it (its gate passed, its bake time over), the tag is the
    // one CloudFormation deploys from then on: a stack update never moves an image back.
    const tagParameter = imageTagParameterName(config.name, image);
    const record = project(
      'Record',
      {
        version: '0.2',
        phases: {
          build: {
            commands: [
              'aws ssm put-parameter --name "$TAG_PARAMETER" --type String --overwrite --value "$TAG"',
              'echo "$SERVICE now runs $TAG"',
            ],
          },
        },
      },
      { env: { TAG_PARAMETER: tagParameter } },
    );
    record.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ssm:PutParameter'],
        resources: [Stack.of(this).formatArn({ service: 'ssm', resource: 'parameter', resourceName: tagParameter.slice(1) })],
      }),
    );
    // Every build is told the image it works for by the pipeline's SERVICE variable, the one place it is named per run.
    const service = { SERVICE: { value: '#{variables.SERVICE}' } };
    const imageAction = new actions.CodeBuildAction({
      actionName: 'Image',
      project: build,
      input: source,
      outputs: [built],
      variablesNamespace: 'Image',
      environmentVariables: service,
    });

    // Each stage of the list (`pipeline-stages.ts`, which the local pipeline runs too) as CodePipeline actions.
    const actionsOf: Record<StageName, () => codepipeline.IAction[]> = {
      Source: () => [sourceAction],
      BuildAndTest: () => [
        new actions.CodeBuildAction({ actionName: 'BuildAndTest', project: test, input: source, environmentVariables: service }),
      ],
      Image: () => [imageAction],
      Approve: () => [promotion(config.promotedFrom!, image)],
      Deploy: () =>
        props.deploys.map(
          (d) =>
            new actions.EcsDeployAction({
              actionName: `Deploy-${d.app.name}`,
              service: d.service,
              imageFile: built.atPath(imageFileOf(d.app)),
              deploymentTimeout: Duration.minutes(DEPLOY_MINUTES),
            }),
        ),
      Record: () => [
        new actions.CodeBuildAction({
          actionName: 'RecordTag',
          project: record,
          input: source,
          environmentVariables: { ...service, TAG: { value: imageAction.variable('TAG') } },
        }),
      ],
      // A push that deploys a service also moves its route group on — or back (see RouteCutover).
      Cutover: () =>
        cutovers.map(
          (app) =>
            new actions.CodeBuildAction({
              actionName: `Cutover-${app.name}`,
              project: codebuild.Project.fromProjectName(this, `${app.name}CutoverProject`, cutoverProjectName(config, app.name)),
              input: source,
              environmentVariables: service,
            }),
        ),
    };

    const artifacts = new s3.Bucket(this, 'Artifacts', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      lifecycleRules: [{ expiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    this.pipeline = new codepipeline.Pipeline(this, 'Pipeline', {
      pipelineName: `strangler-${config.name}-${image}`,
      pipelineType: codepipeline.PipelineType.V2,
      executionMode: codepipeline.ExecutionMode.QUEUED,
      artifactBucket: artifacts,
      restartExecutionOnUpdate: false,
      variables: [
        new codepipeline.Variable({
          variableName: 'SERVICE',
          defaultValue: image,
          description: 'The image this pipeline builds and deploys',
        }),
      ],
      triggers: [
        {
          providerType: codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
          gitConfiguration: {
            sourceAction,
            // A push filter holds at most 8 file paths (CodePipeline's GitFilePathFilterCriteria); more make more filters.
            pushFilter: chunks(triggerPaths(props.deploys.map((d) => d.app)), MAX_FILE_PATHS).map((paths) => ({
              branchesIncludes: [config.source.branch],
              filePathsIncludes: paths,
            })),
          },
        },
      ],
      stages: stagesFor({ promoted: Boolean(config.promotedFrom), cutover: cutovers.length > 0 }).map((st) => ({
        stageName: st.name,
        actions: actionsOf[st.name](),
      })),
    });

    for (const p of [test, build, record])
      acknowledge(
        p,
        'Build artifacts are the image definitions and test logs; the artifact bucket’s S3-managed encryption covers them.',
        'AwsSolutions-CB4',
      );
    acknowledge(
      build,
      'Building and pushing the image needs Docker (privileged mode); it builds only this repository’s Dockerfile.',
      'AwsSolutions-CB3',
    );
    acknowledge(
      artifacts,
      'Holds 30 days of build artifacts, written and read by this pipeline’s roles only; access logging of it is left to CloudTrail data events.',
      'AwsSolutions-S1',
    );
  }
}
