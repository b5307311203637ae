// The POST_TEST_TRAFFIC_SHIFT hook of a service's ECS blue/green deployment. One file, no imports
// but the AWS SDK the Lambda runtime provides: it is shipped as it is, its types stripped.

/** What ECS sends the hook (the fields this hook reads). */
export interface HookEvent {
  serviceArn?: string;
  targetServiceRevisionArn?: string;
  /** Service revision ARN → percent of production traffic. */
  productionTrafficWeights?: Record<string, number>;
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

/** The test run: start one against the candidate, ask how it is going. */
export interface TestRuns {
  start(variables: Record<string, string>): Promise<string>;
  status(buildId: string): Promise<BuildStatus>;
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
 * protect and no seeded system to test against, so the gate passes.
 */
export function createHook(runs: TestRuns) {
  return async (event: HookEvent): Promise<HookResult> => {
    const serving = Object.entries(event.productionTrafficWeights ?? {}).filter(
      ([arn, weight]) => weight > 0 && arn !== event.targetServiceRevisionArn,
    );
    if (!serving.length) return { hookStatus: 'SUCCEEDED', reason: 'first deployment: no revision serves production yet' };
    const buildId = event.hookDetails?.buildId;
    if (!buildId) {
      const id = await runs.start({ TARGET_REVISION: event.targetServiceRevisionArn ?? '' });
      return { hookStatus: 'IN_PROGRESS', callBackDelay: POLL_SECONDS, hookDetails: { buildId: id } };
    }
    const status = await runs.status(buildId);
    if (status === 'IN_PROGRESS') return { hookStatus: 'IN_PROGRESS', callBackDelay: POLL_SECONDS, hookDetails: { buildId } };
    return status === 'SUCCEEDED' ? { hookStatus: 'SUCCEEDED' } : { hookStatus: 'FAILED', reason: `test build ${buildId} ended ${status}` };
  };
}

/** Test runs on the CodeBuild project named by PROJECT_NAME, through the SDK the Lambda runtime ships. */
function codeBuildRuns(projectName: string): TestRuns {
  // A variable, not a literal: the SDK is the runtime's, not a dependency of this repository.
  const sdkName = '@aws-sdk/client-codebuild';
  const sdk = import(sdkName) as Promise<{
    CodeBuildClient: new () => { send(command: unknown): Promise<{ build?: { id?: string }; builds?: { buildStatus?: BuildStatus }[] }> };
    StartBuildCommand: new (input: unknown) => unknown;
    BatchGetBuildsCommand: new (input: unknown) => unknown;
  }>;
  return {
    async start(variables) {
      const { CodeBuildClient, StartBuildCommand } = await sdk;
      const out = await new CodeBuildClient().send(
        new StartBuildCommand({
          projectName,
          environmentVariablesOverride: Object.entries(variables).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })),
        }),
      );
      return out.build!.id!;
    },
    async status(buildId) {
      const { CodeBuildClient, BatchGetBuildsCommand } = await sdk;
      const out = await new CodeBuildClient().send(new BatchGetBuildsCommand({ ids: [buildId] }));
      return out.builds?.[0]?.buildStatus ?? 'FAULT';
    },
  };
}

export const handler = (event: HookEvent): Promise<HookResult> => createHook(codeBuildRuns(process.env.PROJECT_NAME ?? ''))(event);
