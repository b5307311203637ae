import { describe, expect, it } from 'vitest';
import { createLogger } from '@strangler/service-kit/logger';
import { ProxyMetrics } from '../metrics/metrics.ts';
import { buildReport } from './shadow-report.ts';
import { ShadowRecorder, type ShadowSample } from './shadow-recorder.ts';
import { MemoryShadowStore, type DroppedRow, type ShadowExample, type ShadowStore } from './shadow-store.ts';

/** A sample where `$.title` differs, its example marked with `n`. */
const differing = (n: number): ShadowSample => ({
  route: 'things',
  template: '/api/things/:id',
  monolith: { status: 200, ms: 1 },
  service: { status: 200, ms: 1 },
  differences: [{ path: '$.title', field: '$.title', kind: 'changed', a: 'a', b: `b${n}` }],
  noise: undefined,
  example: (field): ShadowExample => ({
    route: 'things',
    template: '/api/things/:id',
    field,
    at: new Date().toISOString(),
    request: { method: 'GET', path: `/api/things/${n}`, headers: {} },
    monolith: { status: 200, headers: {}, body: '', ms: 1 },
    service: { status: 200, headers: {}, body: '', ms: 1 },
    differences: [],
  }),
});

/** A recorder on `store`, every route's gate at one sample. */
const recorderOn = (store: ShadowStore, opts: Partial<ConstructorParameters<typeof ShadowRecorder>[0]> = {}): ShadowRecorder =>
  new ShadowRecorder({
    store,
    metrics: new ProxyMetrics(),
    log: createLogger('strangler-proxy', 'silent'),
    settingsOf: () => ({ noise: { relative: 0.2, absolute: 0.01 }, gate: { minSamples: 1, minScore: 99 } }),
    ...opts,
  });

describe('shadow recorder', () => {
  it('when a long-running proxy has sent its first examples of a field, then every new window still sends fresh ones', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const store = new MemoryShadowStore();
    const recorder = recorderOn(store, { examplesPerField: 3, examplesWindowMs: 60_000, now: () => now });
    const shown = async (): Promise<string[]> => (await store.examples({ route: 'things', field: '$.title' })).map((e) => e.request.path);
    for (let n = 0; n < 10; n++) recorder.record(differing(n));
    await recorder.flush();
    expect(await shown()).toEqual(['/api/things/2', '/api/things/1', '/api/things/0']);
    // Still the same window: the examples of the first requests stay.
    now += 30_000;
    recorder.record(differing(10));
    await recorder.flush();
    expect(await shown()).toEqual(['/api/things/2', '/api/things/1', '/api/things/0']);
    // A day on, the next window: fresh examples, and so on in each window after it.
    for (const [day, first] of [
      [1, 100],
      [2, 200],
    ] as const) {
      now = Date.parse('2026-01-01T00:00:00Z') + day * 86_400_000;
      for (let n = first; n < first + 10; n++) recorder.record(differing(n));
      await recorder.flush();
      expect(await shown()).toEqual([`/api/things/${first + 2}`, `/api/things/${first + 1}`, `/api/things/${first}`]);
    }
    await recorder.stop();
  });

  it('when the counters are stored but the examples then fail, then the retry stores the examples and counts no sample twice', async () => {
    /** PostgreSQL gone between the two writes, once. */
    class FlakyStore extends MemoryShadowStore {
      failures = 1;
      override async addExamples(examples: ShadowExample[], keepPerField: number): Promise<DroppedRow[]> {
        if (this.failures-- > 0) throw new Error('Connection terminated unexpectedly');
        return super.addExamples(examples, keepPerField);
      }
    }
    const store = new FlakyStore();
    const recorder = recorderOn(store);
    for (let n = 0; n < 5; n++) recorder.record(differing(n));
    await recorder.flush();
    await recorder.flush();
    const [row] = (await store.counters({ route: 'things' })).routes;
    expect(row?.samples).toBe(5);
    expect(await store.examples({ route: 'things' })).toHaveLength(3);
    await recorder.stop();
  });

  it("when the service answers a seventh faster than the monolith at 2 ms, then the report's latency columns show it faster, not both at the bound of the bucket they share", async () => {
    const store = new MemoryShadowStore();
    const recorder = recorderOn(store);
    // Monolith 1.80–1.99 ms, service 1.52–1.71 ms: the p50 of each is near 1.9 and 1.62.
    for (let n = 0; n < 200; n++) {
      const jitter = (n % 20) / 100;
      recorder.record({
        ...differing(n),
        differences: [],
        monolith: { status: 200, ms: 1.8 + jitter },
        service: { status: 200, ms: 1.52 + jitter },
      });
    }
    await recorder.flush();
    const [things] = buildReport(await store.counters({}));
    expect(things!.service.p50Ms).toBeLessThan(things!.monolith.p50Ms);
    // Each within a tenth of its side's true p50.
    expect(things!.monolith.p50Ms).toBeGreaterThan(1.9 * 0.9);
    expect(things!.monolith.p50Ms).toBeLessThan(1.9 * 1.1);
    expect(things!.service.p50Ms).toBeGreaterThan(1.62 * 0.9);
    expect(things!.service.p50Ms).toBeLessThan(1.62 * 1.1);
    await recorder.stop();
  });
});
