import { describe, expect, it } from 'vitest';
import { compileRouteTable } from './compile-route-table.ts';
import { RouteTableError } from './load-route-table.ts';

const UPSTREAMS = `version: 1
upstreams:
  monolith: { url: http://127.0.0.1:3000 }
  listings: { url: http://127.0.0.1:3102 }
default: monolith
`;

function problems(text: string): string[] {
  try {
    compileRouteTable(text);
  } catch (err) {
    if (err instanceof RouteTableError) return err.problems.map((p) => `${p.line}: ${p.message}`);
    throw err;
  }
  throw new Error('expected the table to be refused');
}

describe('compileRouteTable', () => {
  it('when listing reads go to the service and listing writes are a 10% canary, then the table compiles with defaults filled in', () => {
    const table = compileRouteTable(`${UPSTREAMS}routes:
  - name: listings-read
    match: { methods: [GET, HEAD], path: /api/listings/:id? }
    mode: service
    target: listings
  - name: listings-write
    match: { methods: [POST, PUT, PATCH, DELETE], path: /api/listings/* }
    mode: canary
    weight: 10
    target: listings
`);
    expect(table.routes.map((r) => [r.name, r.mode, r.service, r.weight])).toEqual([
      ['listings-read', 'service', 'listings', 100],
      ['listings-write', 'canary', 'listings', 10],
    ]);
    expect(table.upstreams.get('listings')).toMatchObject({
      timeoutMs: 10_000,
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 20, resetTimeoutMs: 10_000 },
    });
    expect(table.hash).toMatch(/^[0-9a-f]{12}$/);
  });

  it('when a target, the default or a group is unknown, then each is named with its line', () => {
    expect(
      problems(`version: 1
upstreams:
  monolith: { url: http://127.0.0.1:3000 }
default: mono
routes:
  - name: a
    match: { path: /a }
    mode: service
    target: nowhere
  - name: b
    group: ghosts
    match: { path: /b }
`),
    ).toEqual([
      '4: unknown upstream "mono"; known: monolith',
      '9: unknown upstream "nowhere"; known: monolith',
      '11: unknown group "ghosts"; declare it under groups:',
    ]);
  });

  it('when a weight is outside 0–100, a path is malformed or a field is unknown, then each is refused with its line', () => {
    const found = problems(`${UPSTREAMS}routes:
  - name: a
    match: { path: /api/x }
    mode: canary
    target: listings
    weight: 120
  - name: b
    match: { path: api/no-slash }
    mode: service
    target: listings
  - name: c
    match: { path: /api/*/x }
    mode: service
    target: listings
    colour: blue
`);
    expect(found).toEqual(['11: must be from 0 to 100', '20: is not a known field; remove it or check its spelling']);
    expect(
      problems(`${UPSTREAMS}routes:
  - name: b
    match: { path: api/no-slash }
    mode: service
    target: listings
  - name: c
    match: { path: /api/*/x }
    mode: service
    target: listings
`),
    ).toEqual(['8: path "api/no-slash" must start with /', '12: path "/api/*/x": * is only allowed as the last segment']);
  });

  it('when a rule is shadowed by an earlier, broader one, then it is unreachable and refused', () => {
    expect(
      problems(`${UPSTREAMS}routes:
  - name: everything-listings
    match: { path: /api/listings/* }
    mode: service
    target: listings
  - name: one-listing
    match: { methods: [GET], path: /api/listings/:id }
    mode: monolith
`),
    ).toEqual([
      '11: route "one-listing" can never match: route "everything-listings" (line 7) matches every request it would; move it above or narrow "everything-listings"',
    ]);
  });

  it('when an earlier rule only overlaps (fewer methods, or a header condition), then both stand', () => {
    const table = compileRouteTable(`${UPSTREAMS}routes:
  - name: beta
    match: { path: /api/listings/*, headers: { x-beta: "1" } }
    mode: service
    target: listings
  - name: reads
    match: { methods: [GET], path: /api/listings/* }
    mode: service
    target: listings
  - name: all
    match: { path: /api/listings/* }
    mode: monolith
`);
    expect(table.routes.map((r) => r.name)).toEqual(['beta', 'reads', 'all']);
  });

  it('when listing reads are shadowed with a sample rate and ignored fields, then the shadow route compiles with its options and defaults', () => {
    const table = compileRouteTable(`${UPSTREAMS}routes:
  - name: listings-read
    match: { methods: [GET, HEAD], path: /api/listings/:id? }
    mode: shadow
    target: listings
    shadow: { sampleRate: 1.0, ignore: [ "$.updatedAt", "headers.date" ] }
`);
    const route = table.routes[0]!;
    expect([route.mode, route.service]).toEqual(['shadow', 'listings']);
    expect(route.shadow).toMatchObject({
      sampleRate: 1,
      writes: false,
      timeoutMs: 5000,
      noise: { sampleRate: 0.1, relative: 0.2, absolute: 0.01 },
      gate: { minSamples: 1000, minScore: 99 },
    });
    expect(route.shadow!.rules.ignore.map((p) => p.source)).toEqual(['$.updatedAt', 'headers.date']);
    const decision = table.decide({
      method: 'GET',
      segments: ['api', 'listings', '7'],
      headers: {},
      cookies: new Map(),
      userKey: { value: 'u' },
    });
    expect(decision).toMatchObject({ mode: 'shadow', upstream: 'monolith', mirrorTo: 'listings' });
    expect(decision.reason).toBe('route listings-read is shadowed: monolith answers; 100% of reads are mirrored to listings and compared');
  });

  it('when a shadow route lacks a target or has a malformed field path, then it says which, with the line', () => {
    expect(
      problems(`${UPSTREAMS}routes:
  - name: s
    match: { path: /api/listings }
    mode: shadow
`),
    ).toEqual(['7: is required in shadow mode: the upstream that serves the route']);
    expect(
      problems(`${UPSTREAMS}routes:
  - name: s
    match: { path: /api/listings }
    mode: shadow
    target: listings
    shadow:
      ignore: [ "$.ok", "items.id" ]
      sets: { "$.items[x]": id }
`),
    ).toEqual([
      '12: "items.id" must be status, headers.<name>, or a body path starting with $ (like $.items[*].updatedAt)',
      '13: "$.items[x]": expected [*], [n] or ["key"] at character 8',
    ]);
  });

  it('when canary lacks weight or target, or another mode has a weight, then it says which', () => {
    expect(
      problems(`${UPSTREAMS}routes:
  - name: c
    match: { path: /c }
    mode: canary
  - name: s
    match: { path: /s }
    mode: monolith
    weight: 5
`),
    ).toEqual([
      '7: is required in canary mode: the upstream that serves the route',
      '7: is required in canary mode: the percent of users sent to the target',
      '13: only applies in canary mode, not monolith',
    ]);
  });

  it('when the YAML itself is broken or repeats a key, then the parser error has its line', () => {
    expect(problems('version: 1\nupstreams: [\n')[0]).toMatch(/^\d+: YAML: /);
    expect(problems(`${UPSTREAMS}default: monolith\n`)[0]).toMatch(/^\d+: YAML: Map keys must be unique/);
  });

  it('when routes are grouped, then they take the group mode and share its split', () => {
    const table = compileRouteTable(`${UPSTREAMS}groups:
  listings: { mode: canary, target: listings, weight: 25 }
routes:
  - name: read
    group: listings
    match: { methods: [GET], path: /api/listings/* }
  - name: write
    group: listings
    match: { methods: [POST], path: /api/listings/* }
`);
    expect(table.routes.map((r) => [r.name, r.group, r.mode, r.weight])).toEqual([
      ['read', 'listings', 'canary', 25],
      ['write', 'listings', 'canary', 25],
    ]);
    expect(
      problems(`${UPSTREAMS}groups:
  listings: { mode: canary, target: listings, weight: 25 }
routes:
  - name: read
    group: listings
    mode: service
    match: { path: /api/listings/* }
`),
    ).toEqual(['9: route "read" belongs to group "listings": set mode, target, weight and frozen on the group, not the route']);
  });
});
