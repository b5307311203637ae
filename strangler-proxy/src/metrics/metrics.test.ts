import { describe, expect, it } from 'vitest';
import { ProxyMetrics } from './metrics.ts';

const line = (text: string, name: string): string | undefined => text.split('\n').find((l) => l.startsWith(name));

describe('the proxy metrics', () => {
  it('when requests are counted between scrapes, then each scrape shows the running total, never a count twice', async () => {
    const m = new ProxyMetrics();
    for (let i = 0; i < 3; i++) m.observeRequest('listings', 'listings', 'service', 200, 0.002);
    m.observeRequest('listings', 'monolith', 'service', 503, 0.01);
    let text = await m.registry.metrics();
    expect(line(text, 'strangler_requests_total{route="listings",target="listings",mode="service",status_class="2xx"}')).toMatch(/ 3$/);
    expect(line(text, 'strangler_requests_total{route="listings",target="monolith",mode="service",status_class="5xx"}')).toMatch(/ 1$/);
    m.observeRequest('listings', 'listings', 'service', 204, 0.002);
    text = await m.registry.metrics();
    expect(line(text, 'strangler_requests_total{route="listings",target="listings",mode="service",status_class="2xx"}')).toMatch(/ 4$/);
    expect(line(text, 'strangler_request_duration_seconds_count{route="listings",target="listings"}')).toMatch(/ 4$/);
  });

  it('when requests start and end, then the in-flight gauge follows them, and one counted out twice is counted out once', async () => {
    const m = new ProxyMetrics();
    const [a, b] = [m.trackRequest(), m.trackRequest()];
    expect(line(await m.registry.metrics(), 'strangler_requests_in_flight ')).toBe('strangler_requests_in_flight 2');
    a();
    a();
    expect(line(await m.registry.metrics(), 'strangler_requests_in_flight ')).toBe('strangler_requests_in_flight 1');
    b();
    expect(m.inFlightCount()).toBe(0);
    expect(line(await m.registry.metrics(), 'strangler_requests_in_flight ')).toBe('strangler_requests_in_flight 0');
  });
});
