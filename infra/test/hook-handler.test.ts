// The test gate's Lambda: pure logic over a TestRuns port (CodeBuild in production, a fake here —
// there is no AWS to start a build on).
import { describe, expect, it } from 'vitest';
import { createHook, POLL_SECONDS, type BuildStatus, type HookEvent, type TestRuns } from '../src/test-gate/hook-handler.ts';

const BLUE = 'arn:aws:ecs:us-east-1:1:service-revision/c/orders/1';
const GREEN = 'arn:aws:ecs:us-east-1:1:service-revision/c/orders/2';

/** A build system whose builds end as scripted: each status call takes the next status. */
function fakeRuns(statuses: BuildStatus[]) {
  const started: Record<string, string>[] = [];
  const polled: string[] = [];
  const runs: TestRuns = {
    async start(variables) {
      started.push(variables);
      return `tests:${started.length}`;
    },
    async status(buildId) {
      polled.push(buildId);
      return statuses.shift() ?? 'FAULT';
    },
  };
  return { runs, started, polled };
}

const event = (extra: Partial<HookEvent> = {}): HookEvent => ({
  serviceArn: 'arn:aws:ecs:us-east-1:1:service/c/orders',
  targetServiceRevisionArn: GREEN,
  productionTrafficWeights: { [BLUE]: 100, [GREEN]: 0 },
  ...extra,
});

/** Calls the hook as ECS does: again after each IN_PROGRESS, handing back its hookDetails. */
async function drive(hook: ReturnType<typeof createHook>, first: HookEvent) {
  const answers = [await hook(first)];
  while (answers.at(-1)!.hookStatus === 'IN_PROGRESS' && answers.length < 20) {
    answers.push(await hook({ ...first, hookDetails: answers.at(-1)!.hookDetails! }));
  }
  return answers;
}

describe('test gate hook', () => {
  it('starts one test build, answers IN_PROGRESS while it runs, then SUCCEEDED: production traffic may move', async () => {
    const { runs, started, polled } = fakeRuns(['IN_PROGRESS', 'IN_PROGRESS', 'SUCCEEDED']);
    const answers = await drive(createHook(runs), event());
    expect(answers.map((a) => a.hookStatus)).toEqual(['IN_PROGRESS', 'IN_PROGRESS', 'IN_PROGRESS', 'SUCCEEDED']);
    expect(answers.slice(0, 3).every((a) => a.callBackDelay === POLL_SECONDS && a.hookDetails?.buildId === 'tests:1')).toBe(true);
    expect(started).toEqual([{ TARGET_REVISION: GREEN }]);
    expect(polled).toEqual(['tests:1', 'tests:1', 'tests:1']);
  });

  it.each(['FAILED', 'FAULT', 'STOPPED', 'TIMED_OUT'] as const)(
    'a build that ends %s fails the deployment (ECS rolls back; production never moved)',
    async (end) => {
      const { runs, started } = fakeRuns(['IN_PROGRESS', end]);
      const answers = await drive(createHook(runs), event());
      expect(answers.map((a) => a.hookStatus)).toEqual(['IN_PROGRESS', 'IN_PROGRESS', 'FAILED']);
      expect(answers.at(-1)!.reason).toBe(`test build tests:1 ended ${end}`);
      expect(started).toHaveLength(1);
    },
  );

  it('passes the very first deployment: no revision serves production yet, so nothing is started', async () => {
    for (const weights of [undefined, {}, { [GREEN]: 0 }, { [GREEN]: 100 }]) {
      const { runs, started } = fakeRuns([]);
      const answer = await createHook(runs)(event({ productionTrafficWeights: weights as Record<string, number> }));
      expect(answer.hookStatus).toBe('SUCCEEDED');
      expect(answer.reason).toMatch(/first deployment/);
      expect(started).toEqual([]);
    }
  });

  it('a build that cannot be started fails the call, which ECS treats as a failed hook', async () => {
    const runs: TestRuns = {
      start: () => Promise.reject(new Error('AccessDenied')),
      status: () => Promise.resolve('SUCCEEDED'),
    };
    await expect(createHook(runs)(event())).rejects.toThrow('AccessDenied');
  });
});
