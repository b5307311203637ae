// The test gate's Lambda: pure logic over two ports (CodeBuild and ECS in production, fakes here —
// there is no AWS to start a build on). Every event is built from the payload AWS documents, not
// from our own idea of it.
import { describe, expect, it } from 'vitest';
import {
  createHook,
  handler,
  POLL_SECONDS,
  commitOf,
  type BuildStatus,
  type Deployments,
  type HookEvent,
  type TestRuns,
} from '../src/test-gate/hook-handler.ts';

// The ECS developer guide, "Lambda hooks for Amazon ECS service deployments" → "Lifecycle payloads"
// → "POST_TEST_TRAFFIC_SHIFT" (green 9313423515462893900 being deployed, blue 1920498462936580504
// in production), verbatim:
//
//   {
//     "executionId": "3a0345ba-b029-404b-890d-7da2a4b266aa",
//     "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
//     "resourceArn": "arn:aws:ecs:us-west-2:123456789012:service-deployment/my-cluster/my-service/EZe5RNVLH6PPzHXINuP28",
//     "executionDetails": {
//       "serviceArn": "arn:aws:ecs:us-west-2:123456789012:service/my-cluster/my-service",
//       "targetServiceRevisionArn": "arn:aws:ecs:us-west-2:123456789012:service-revision/my-cluster/my-service/9313423515462893900",
//       "testTrafficWeights": {},
//       "productionTrafficWeights": {}
//     }
//   }
//
// Note the empty weights on a deployment that has a blue revision: they cannot tell a first one.
const DEPLOYMENT = 'arn:aws:ecs:us-west-2:123456789012:service-deployment/my-cluster/my-service/EZe5RNVLH6PPzHXINuP28';
const GREEN = 'arn:aws:ecs:us-west-2:123456789012:service-revision/my-cluster/my-service/9313423515462893900';
const BLUE = 'arn:aws:ecs:us-west-2:123456789012:service-revision/my-cluster/my-service/1920498462936580504';
const documented = (): HookEvent =>
  JSON.parse(`{
    "executionId": "3a0345ba-b029-404b-890d-7da2a4b266aa",
    "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
    "resourceArn": "${DEPLOYMENT}",
    "executionDetails": {
      "serviceArn": "arn:aws:ecs:us-west-2:123456789012:service/my-cluster/my-service",
      "targetServiceRevisionArn": "${GREEN}",
      "testTrafficWeights": {},
      "productionTrafficWeights": {}
    }
  }`);

/** A build system whose builds end as scripted: each status call takes the next status. */
function fakeRuns(statuses: BuildStatus[]) {
  const started: { commit: string; variables: Record<string, string> }[] = [];
  const polled: string[] = [];
  const runs: TestRuns = {
    async start(run) {
      started.push(run);
      return `tests:${started.length}`;
    },
    async status(buildId) {
      polled.push(buildId);
      return statuses.shift() ?? 'FAULT';
    },
  };
  return { runs, started, polled };
}

/**
 * ECS's record of the deployment, as DescribeServiceDeployments answers it (ECS API reference,
 * "DescribeServiceDeployments" → "Response Syntax": `serviceDeployments[].sourceServiceRevisions[]`,
 * each with its `arn`): blue on a later deployment, nothing on the service's first.
 */
function history(sources: string[], image: string | null = IMAGE) {
  const asked: string[] = [];
  const deployments: Deployments = {
    async sourceRevisions(arn) {
      asked.push(arn);
      return sources;
    },
    // DescribeServiceRevisions → "Response Syntax": `serviceRevisions[].containerImages[]` with
    // `containerName`, `image`, `imageDigest`; the image as the task definition names it.
    async appImage(arn) {
      asked.push(arn);
      return image ?? undefined;
    },
  };
  return { deployments, asked };
}

/** The commit the pipeline built the green revision's image from: its tag. */
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const IMAGE = `123456789012.dkr.ecr.us-west-2.amazonaws.com/strangler-dev-monolith:${COMMIT}`;

/** Calls the hook as ECS does: again after each IN_PROGRESS, the documented event plus the hookDetails it returned. */
async function drive(hook: ReturnType<typeof createHook>, first: HookEvent) {
  const answers = [await hook(first)];
  while (answers.at(-1)!.hookStatus === 'IN_PROGRESS' && answers.length < 20) {
    answers.push(await hook({ ...first, hookDetails: answers.at(-1)!.hookDetails! }));
  }
  return answers;
}

describe('test gate hook, on the payloads AWS documents', () => {
  it('when a later deployment reaches POST_TEST_TRAFFIC_SHIFT with the documented (empty-weights) payload, then the gate runs: one build, IN_PROGRESS while it runs, SUCCEEDED when it passes', async () => {
    const { runs, started, polled } = fakeRuns(['IN_PROGRESS', 'IN_PROGRESS', 'SUCCEEDED']);
    const { deployments, asked } = history([BLUE]);
    const answers = await drive(createHook({ runs, deployments }), documented());
    expect(answers.map((a) => a.hookStatus)).toEqual(['IN_PROGRESS', 'IN_PROGRESS', 'IN_PROGRESS', 'SUCCEEDED']);
    expect(answers.slice(0, 3).every((a) => a.callBackDelay === POLL_SECONDS && a.hookDetails?.buildId === 'tests:1')).toBe(true);
    // The history is read from the deployment the event names (its top-level resourceArn).
    expect(asked).toEqual([DEPLOYMENT, GREEN]);
    expect(started).toEqual([{ commit: COMMIT, variables: { TARGET_REVISION: GREEN, COMMIT } }]);
    expect(polled).toEqual(['tests:1', 'tests:1', 'tests:1']);
  });

  it.each(['FAILED', 'FAULT', 'STOPPED', 'TIMED_OUT'] as const)(
    'when the gate’s build ends %s, then the hook answers FAILED (ECS rolls back; production never moved)',
    async (end) => {
      const { runs, started } = fakeRuns(['IN_PROGRESS', end]);
      const answers = await drive(createHook({ runs, deployments: history([BLUE]).deployments }), documented());
      expect(answers.map((a) => a.hookStatus)).toEqual(['IN_PROGRESS', 'IN_PROGRESS', 'FAILED']);
      expect(answers.at(-1)!.reason).toBe(`test build tests:1 ended ${end}`);
      expect(started).toHaveLength(1);
    },
  );

  it('when ECS calls again with the hookDetails the hook returned while the build still runs, then it answers IN_PROGRESS with the same build and starts nothing', async () => {
    const { runs, started } = fakeRuns(['IN_PROGRESS']);
    const { deployments, asked } = history([BLUE]);
    // "On the next invocation, Amazon ECS includes the hookDetails in the event payload alongside executionDetails."
    const answer = await createHook({ runs, deployments })({ ...documented(), hookDetails: { buildId: 'tests:7' } });
    expect(answer).toEqual({ hookStatus: 'IN_PROGRESS', callBackDelay: POLL_SECONDS, hookDetails: { buildId: 'tests:7' } });
    expect(started).toEqual([]);
    expect(asked).toEqual([]);
  });

  it('when ECS records no source revision (the service’s first deployment), then the gate passes and starts nothing, whatever the weights say', async () => {
    for (const productionTrafficWeights of [{}, { [GREEN]: 0 }, { [GREEN]: 100 }] as Record<string, number>[]) {
      const { runs, started } = fakeRuns([]);
      const event = documented();
      event.executionDetails!.productionTrafficWeights = productionTrafficWeights;
      const answer = await createHook({ runs, deployments: history([]).deployments })(event);
      expect(answer.hookStatus).toBe('SUCCEEDED');
      expect(answer.reason).toMatch(/first deployment/);
      expect(started).toEqual([]);
    }
  });

  it('when the event has no deployment or target revision, then the gate fails rather than let an unjudged revision through', async () => {
    for (const broken of [
      { ...documented(), resourceArn: undefined },
      { ...documented(), executionDetails: {} },
    ]) {
      const { runs, started } = fakeRuns([]);
      const answer = await createHook({ runs, deployments: history([BLUE]).deployments })(broken);
      expect(answer.hookStatus).toBe('FAILED');
      expect(answer.reason).toMatch(/resourceArn|targetServiceRevisionArn/);
      expect(started).toEqual([]);
    }
  });

  it('when the gate starts its build, then the build tests the commit the green revision’s image was built from, not the branch’s newest', async () => {
    const { runs, started } = fakeRuns([]);
    const other = 'fedcba9876543210fedcba9876543210fedcba98';
    const { deployments } = history([BLUE], `123456789012.dkr.ecr.us-west-2.amazonaws.com/strangler-dev-orders:${other}`);
    await createHook({ runs, deployments })(documented());
    expect(started.map((r) => r.commit)).toEqual([other]);
  });

  it('when the green revision’s image names no commit (a digest, a hand-made tag, none), then the gate fails, naming the image', async () => {
    for (const image of ['repo@sha256:' + 'a'.repeat(64), 'repo:bootstrap', 'repo:latest', null]) {
      const { runs, started } = fakeRuns([]);
      const answer = await createHook({ runs, deployments: history([BLUE], image).deployments })(documented());
      expect(answer.hookStatus).toBe('FAILED');
      expect(answer.reason).toContain(`cannot tell which commit ${image ?? 'the target revision'}`);
      expect(started).toEqual([]);
    }
    expect(commitOf(IMAGE)).toBe(COMMIT);
    expect(commitOf('localhost:5000/repo')).toBeUndefined();
  });

  it('when the deployed handler answers without needing AWS (a malformed event), then it leaves no rejected SDK import behind to crash the Lambda runtime', async () => {
    // Here, as in any runtime without the SDK, importing it rejects: only a call that needs it may import it.
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const answer = await handler({ ...documented(), resourceArn: undefined });
      expect(answer.hookStatus).toBe('FAILED');
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('when the history or the build cannot be had, then the call fails, which ECS treats as a failed hook (rolls back)', async () => {
    const refused: Deployments = {
      sourceRevisions: () => Promise.reject(new Error('AccessDeniedException')),
      appImage: () => Promise.resolve(IMAGE),
    };
    await expect(createHook({ runs: fakeRuns([]).runs, deployments: refused })(documented())).rejects.toThrow('AccessDenied');
    const runs: TestRuns = { start: () => Promise.reject(new Error('AccessDenied')), status: () => Promise.resolve('SUCCEEDED') };
    await expect(createHook({ runs, deployments: history([BLUE]).deployments })(documented())).rejects.toThrow('AccessDenied');
  });
});
