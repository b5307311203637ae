// The proxy's test harness, for other packages' tests (the data toolkit's writer switch drives a real proxy).
export { FakeUpstream, type Behaviour, type Seen } from './fake-upstream.ts';
export { ADMIN_AUTH, ADMIN_TOKEN, startTestProxy, table, type TestProxy } from './proxy-harness.ts';
export { startTestRedis, type TestRedis } from './redis-server.ts';
export { steadyLoad, type LoadResult } from './steady-load.ts';
