import { Histogram, Registry, type Metric } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PlainHistogram } from './plain-histogram.ts';

/** Exposition text as a set of samples, label order aside: `name{a="1",b="2"} value`. */
function samples(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^([^{ ]+)(?:\{(.*)\})? (.+)$/.exec(l)!;
      const labels = (m[2] ?? '')
        .split(/,(?=[a-z_]+=")/)
        .filter(Boolean)
        .sort();
      return `${m[1]}{${labels.join(',')}} ${Number(m[3])}`;
    })
    .sort();
}

describe('the plain histogram', () => {
  it('when the same values are observed, then it exposes exactly what a prom-client histogram of the same name, labels and buckets does', async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const ours = new Registry();
    const plain = new PlainHistogram('t_seconds', 'help text', ['route', 'target'], buckets);
    ours.registerMetric(plain as unknown as Metric);
    const theirs = new Registry();
    const reference = new Histogram({
      name: 't_seconds',
      help: 'help text',
      labelNames: ['route', 'target'],
      buckets,
      registers: [theirs],
    });
    const a = plain.series({ route: 'listings', target: 'monolith' });
    const b = plain.series({ route: 'orders', target: 'orders' });
    // On a bound, between bounds, past the last one, and a second label set.
    for (const v of [0.001, 0.0005, 0.05, 0.05, 3, 1]) {
      plain.observe(a, v);
      reference.observe({ route: 'listings', target: 'monolith' }, v);
    }
    plain.observe(b, 0.02);
    reference.observe({ route: 'orders', target: 'orders' }, 0.02);
    expect(plain.series({ route: 'listings', target: 'monolith' })).toBe(a);
    const text = await ours.metrics();
    expect(samples(text)).toEqual(samples(await theirs.metrics()));
    expect(text).toContain('# TYPE t_seconds histogram');
    expect((await plain.get()).values).toEqual(
      (await reference.get()).values.map((v) => ({ metricName: v.metricName, labels: v.labels, value: v.value })),
    );
  });

  it('when reset, then every series reads zero and one held by a caller still counts', async () => {
    const plain = new PlainHistogram('t_seconds', 'help', ['route'], [0.1]);
    const held = plain.series({ route: 'a' });
    plain.observe(held, 0.05);
    plain.reset();
    plain.observe(held, 0.5);
    const values = (await plain.get()).values.map((v) => `${v.metricName}:${v.labels.le ?? ''}=${v.value}`);
    expect(values).toEqual(['t_seconds_bucket:0.1=0', 't_seconds_bucket:+Inf=1', 't_seconds_sum:=0.5', 't_seconds_count:=1']);
  });
});
