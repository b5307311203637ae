// The POST_TEST_TRAFFIC_SHIFT hook of a service's ECS blue/green deployment. One file, no imports
// but the AWS SDK the Lambda runtime provides: it is shipped as it is, its types stripped.

/**
 * What ECS sends the hook, as the ECS developer guide documents it ("Lambda hooks for Amazon ECS
 * service deployments", "Common payload structure"): `executionId`, `lifecycleStage`,
 * `resourceArn` (the service deployment) and `hookDetails` at the top level; the service, the target
 * revision and both weight maps nested under `executionDetails`.
 */
export interface HookEvent {
  executionId?: string;
  lifecycleStage?: string;
  /** The service deployment being run: `arn:aws:ecs:…:service-deployment/<cluster>/<service>/<id>`. */
  resourceArn?: string;
  executionDetails?: {
    serviceArn?: string;
    targetServiceRevisionArn?: string;
    /** Service revision ARN → percent. Empty at POST_TEST_TRAFFIC_SHIFT in AWS's own example, so never read to decide anything. */
    testTrafficWeights?: Record<string, number>;
    productionTrafficWeights?: Record<string, number>;
  };
  /** What the previous invocation returned, handed back by ECS. */
  hookDetails?: { buildId?: string } & Record<string, unknown>;
}

/** What ECS expects back: go on, roll back, or ask again after `callBackDelay` seconds. */
export interface HookResult {
  hookStatus: 'SUCCEEDED' | 'FAILED' | 'IN_PROGRESS';
  callBackDelay?: number;
  hookDetails?: Record<string, unknown>;
  reason?: string;
}

export type BuildStatus = 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'FAULT' | 'STOPPED' | 'TIMED_OUT';

/** The test run: start one of a commit's tests against the candidate, ask how it is going. */
export interface TestRuns {
  start(run: { commit: string; variables: Record<string, string> }): Promise<string>;
  status(buildId: string): Promise<BuildStatus>;
}

/** The service's deployment history, from ECS. */
export interface Deployments {
  /**
   * The revisions a service deployment moves traffic away from (DescribeServiceDeployments'
   * `sourceServiceRevisions`): none on the service's first deployment.
   */
  sourceRevisions(serviceDeploymentArn: string): Promise<string[]>;
  /** The image the app container of a service revision runs (DescribeServiceRevisions' `containerImages[].image`). */
  appImage(serviceRevisionArn: string): Promise<string | undefined>;
}

/** The container of a task that runs the app (the task definitions' `APP_CONTAINER`). */
export const APP_CONTAINER = 'app';

/** The commit an image was built from: the pipeline tags every image with its full commit id. */
export function commitOf(image: string | undefined): string | undefined {
  const tag = /:([^:/@]+)$/.exec(image ?? '')?.[1];
  return tag && /^[0-9a-f]{40}$/.test(tag) ? tag : undefined;
}

/** Seconds between checks of a running test build. */
export const POLL_SECONDS = 30;

/**
 * The gate: on its first call, starts the test build (contract and journey tests against the test
 * listener, where the green revision takes the test traffic) and answers IN_PROGRESS with the
 * build's id; ECS calls again with that id until the build ends: SUCCEEDED lets production traffic
 * move, anything else is FAILED and rolls the deployment back before a user sees green.
 *
 * On a service's very first deployment no revision serves production yet: there is nothing to
 * protect and no seeded system to test against, so the gate passes. Which deployment is a first one
 * is read from ECS's record of it (no source revisions), not from the event's weights: AWS's own
 * POST_TEST_TRAFFIC_SHIFT example carries `productionTrafficWeights: {}` on a deployment that has a
 * blue revision.
 */
export function createHook(ports: { runs: TestRuns; deployments: Deployments }) {
  const { runs, deployments } = ports;
  return async (event: HookEvent): Promise<HookResult> => {
    const buildId = event.hookDetails?.buildId;
    if (buildId) {
      const status = await runs.status(buildId);
      if (status === 'IN_PROGRESS') return { hookStatus: 'IN_PROGRESS', callBackDelay: POLL_SECONDS, hookDetails: { buildId } };
      return status === 'SUCCEEDED'
        ? { hookStatus: 'SUCCEEDED' }
        : { hookStatus: 'FAILED', reason: `test build ${buildId} ended ${status}` };
    }
    const deployment = event.resourceArn;
    const target = event.executionDetails?.targetServiceRevisionArn;
    // A payload without them cannot be judged; passing it would let an untested revision through.
    if (!deployment || !target)
      return { hookStatus: 'FAILED', reason: 'the hook event has no resourceArn or executionDetails.targetServiceRevisionArn' };
    const sources = await deployments.sourceRevisions(deployment);
    if (!sources.length) return { hookStatus: 'SUCCEEDED', reason: 'first deployment: no revision serves production yet' };
    // The tests of the commit being deployed, not whatever the branch holds by now.
    const image = await deployments.appImage(target);
    const commit = commitOf(image);
    if (!commit) return { hookStatus: 'FAILED', reason: `cannot tell which commit ${image ?? 'the target revision'} was built from` };
    const id = await runs.start({ commit, variables: { TARGET_REVISION: target, COMMIT: commit } });
    return { hookStatus: 'IN_PROGRESS', callBackDelay: POLL_SECONDS, hookDetails: { buildId: id } };
  };
}

/** Where the pipeline's image build leaves a commit's source for the gate. */
export const sourceKey = (commit: string): string => `sources/${commit}.zip`;

// Variables, not literals: the SDKs are the runtime's, not dependencies of this repository.
const CODEBUILD_SDK = '@aws-sdk/client-codebuild';
const ECS_SDK = '@aws-sdk/client-ecs';
interface Client<Out> {
  send(command: unknown): Promise<Out>;
}

/**
 * Test runs on the CodeBuild project named by PROJECT_NAME, through the SDK the Lambda runtime
 * ships. Each build's source is the commit's zip the pipeline's image build put under
 * `s3://SOURCE_BUCKET/sources/` (StartBuild's `sourceLocationOverride`, `<bucket>/<key>` for S3).
 */
function codeBuildRuns(projectName: string, sourceBucket: string): TestRuns {
  // Imported when first used, not when the handler is made: a call that needs no build (a first
  // deployment, a malformed event) must not leave a rejected import behind to crash the runtime.
  const sdk = (): Promise<{
    CodeBuildClient: new () => Client<{ build?: { id?: string }; builds?: { buildStatus?: BuildStatus }[] }>;
    StartBuildCommand: new (input: unknown) => unknown;
    BatchGetBuildsCommand: new (input: unknown) => unknown;
  }> => import(CODEBUILD_SDK);
  return {
    async start({ commit, variables }) {
      const { CodeBuildClient, StartBuildCommand } = await sdk();
      const out = await new CodeBuildClient().send(
        new StartBuildCommand({
          projectName,
          sourceTypeOverride: 'S3',
          sourceLocationOverride: `${sourceBucket}/${sourceKey(commit)}`,
          environmentVariablesOverride: Object.entries(variables).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })),
        }),
      );
      return out.build!.id!;
    },
    async status(buildId) {
      const { CodeBuildClient, BatchGetBuildsCommand } = await sdk();
      const out = await new CodeBuildClient().send(new BatchGetBuildsCommand({ ids: [buildId] }));
      return out.builds?.[0]?.buildStatus ?? 'FAULT';
    },
  };
}

/** The deployment history through ECS's API (DescribeServiceDeployments and DescribeServiceRevisions, granted on this service only). */
function ecsDeployments(): Deployments {
  const sdk = (): Promise<{
    ECSClient: new () => Client<unknown>;
    DescribeServiceDeploymentsCommand: new (input: unknown) => unknown;
    DescribeServiceRevisionsCommand: new (input: unknown) => unknown;
  }> => import(ECS_SDK);
  return {
    async sourceRevisions(serviceDeploymentArn) {
      const { ECSClient, DescribeServiceDeploymentsCommand } = await sdk();
      const out = (await new ECSClient().send(
        new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [serviceDeploymentArn] }),
      )) as {
        serviceDeployments?: { sourceServiceRevisions?: { arn?: string }[] }[];
        failures?: { reason?: string }[];
      };
      const [deployment] = out.serviceDeployments ?? [];
      // Not found is not "first": an unreadable history must not open the gate.
      if (!deployment) throw new Error(`service deployment ${serviceDeploymentArn} not found: ${out.failures?.[0]?.reason ?? 'no answer'}`);
      return (deployment.sourceServiceRevisions ?? []).map((r) => r.arn ?? '');
    },
    async appImage(serviceRevisionArn) {
      const { ECSClient, DescribeServiceRevisionsCommand } = await sdk();
      const out = (await new ECSClient().send(new DescribeServiceRevisionsCommand({ serviceRevisionArns: [serviceRevisionArn] }))) as {
        serviceRevisions?: { containerImages?: { containerName?: string; image?: string }[] }[];
      };
      return out.serviceRevisions?.[0]?.containerImages?.find((c) => c.containerName === APP_CONTAINER)?.image;
    },
  };
}

export const handler = (event: HookEvent): Promise<HookResult> =>
  createHook({ runs: codeBuildRuns(process.env.PROJECT_NAME ?? '', process.env.SOURCE_BUCKET ?? ''), deployments: ecsDeployments() })(
    event,
  );
