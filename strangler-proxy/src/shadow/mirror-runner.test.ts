import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePathPattern } from '../routing/path-pattern.ts';
import { compileRules } from './compare-responses.ts';
import { MirrorRunner, NO_ANSWER, type MirrorJob } from './mirror-runner.ts';
import type { MirrorRoute } from './mirror-wire.ts';
import { redactionRules } from './redact.ts';

// The monolith's answer every copy is held against: long enough to arrive in several chunks.
const EXPECTED = Buffer.from(JSON.stringify({ items: Array.from({ length: 400 }, (_, i) => ({ id: i, title: `book ${i}` })) }));

/** A real target: `/same` answers EXPECTED, the others depart from it in one way each, in pieces with pauses between. */
function target(): http.Server {
  return http.createServer((req, res) => {
    const path = req.url ?? '';
    const body =
      path === '/changed-late'
        ? Buffer.concat([EXPECTED.subarray(0, EXPECTED.length - 20), Buffer.from(EXPECTED.subarray(-20).toString().replace('399', '398'))])
        : path === '/shorter'
          ? EXPECTED.subarray(0, EXPECTED.length - 1)
          : path === '/longer'
            ? Buffer.concat([EXPECTED.subarray(0, -1), Buffer.from(',"more":1}')])
            : path === '/huge'
              ? Buffer.alloc(EXPECTED.length * 4, 'x')
              : EXPECTED;
    if (path === '/silent') return; // never answers
    res.writeHead(200, { 'content-type': 'application/json' });
    const pieces = [body.subarray(0, 1000), body.subarray(1000, 5000), body.subarray(5000)];
    const next = (): void => {
      const p = pieces.shift();
      if (!p) return void res.end();
      res.write(p);
      setTimeout(next, 5);
    };
    next();
  });
}

describe('a mirror runner against a real target', () => {
  const server = target();
  let url = '';
  const runner = new MirrorRunner({ maxSockets: 4, maxBodyBytes: EXPECTED.length * 2, redaction: redactionRules() });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    runner.close();
    server.closeAllConnections();
    server.close();
  });

  const job = (path: string, timeoutMs = 2_000): MirrorJob => {
    const route: MirrorRoute = {
      ref: 1,
      route: 'books',
      timeoutMs,
      noiseSampleRate: 0,
      compare: {},
      monolithUrl: url,
      targetUrl: url,
      pattern: parsePathPattern('/*'),
      freshness: undefined,
    };
    return {
      id: 1,
      route,
      rules: compileRules(route.compare),
      method: 'GET',
      path,
      headers: { accept: 'application/json' },
      body: Buffer.alloc(0),
      primary: { status: 200, headers: { 'content-type': 'application/json' }, body: EXPECTED, ms: 1 },
      answeredAt: Date.now(),
    };
  };

  it('when the copy arrives byte for byte the monolith’s, in pieces, then it is mirrored with no difference', async () => {
    const r = await runner.run(job('/same'));
    expect([r.outcome, r.service.status, r.differences]).toEqual(['mirrored', 200, []]);
  });

  it('when the copy departs from the monolith’s answer only in its last piece, then the field that differs is named, with both values', async () => {
    const r = await runner.run(job('/changed-late'));
    expect(r.differences).toEqual([
      { path: '$.items[399].title', field: '$.items[*].title', kind: 'changed', a: 'book 399', b: 'book 398' },
    ]);
    // The example shows the service's whole answer: the part that matched is not lost.
    expect(r.examples['$.items[*].title']!.service.body).toMatch(/^\{\s+"items": \[\s+\{\s+"id": 0,\s+"title": "book 0"/);
  });

  it('when the copy stops a byte short of the monolith’s answer, or goes on past it, then it is not taken for the same answer', async () => {
    const shorter = await runner.run(job('/shorter'));
    expect(shorter.differences).toMatchObject([{ path: '$', kind: 'changed' }]);
    const longer = await runner.run(job('/longer'));
    expect(longer.differences).toEqual([{ path: '$.more', field: '$.more', kind: 'extra', b: 1 }]);
  });

  it('when the copy is larger than allowed, or never answers, then it fails saying why, within its timeout', async () => {
    const huge = await runner.run(job('/huge'));
    expect([huge.outcome, huge.differences[0]]).toEqual([
      'failed',
      expect.objectContaining({ field: NO_ANSWER, b: `answer larger than ${EXPECTED.length * 2} bytes` }),
    ]);
    const started = Date.now();
    const silent = await runner.run(job('/silent', 200));
    expect([silent.outcome, silent.differences[0]?.b]).toEqual(['failed', 'no answer within 200 ms']);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
