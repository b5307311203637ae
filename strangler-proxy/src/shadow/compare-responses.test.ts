import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareResponses, compileRules, type ComparableResponse, type CompareRulesSpec } from './compare-responses.ts';
import { parseFieldPattern } from './field-path.ts';

const res = (body: unknown, o: { status?: number; headers?: Record<string, string> } = {}): ComparableResponse => ({
  status: o.status ?? 200,
  headers: { 'content-type': 'application/json', ...o.headers },
  body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
});
const diff = (a: unknown, b: unknown, spec: CompareRulesSpec = {}) => compareResponses(res(a), res(b), compileRules(spec));

describe('field patterns', () => {
  it('when a pattern uses keys, indexes, wildcards or recursion, then it matches the paths it says', () => {
    const m = (p: string, segments: (string | number)[]) => parseFieldPattern(p).matches({ area: 'body', segments });
    expect(m('$.items[*].updatedAt', ['items', 3, 'updatedAt'])).toBe(true);
    expect(m('$.items[*].updatedAt', ['items', 'x', 'updatedAt'])).toBe(false);
    expect(m('$.items[2].id', ['items', 2, 'id'])).toBe(true);
    expect(m('$.*.id', ['listing', 'id'])).toBe(true);
    expect(m('$..requestId', ['requestId'])).toBe(true);
    expect(m('$..requestId', ['a', 0, 'b', 'requestId'])).toBe(true);
    expect(m('$..requestId', ['a', 'requestIdX'])).toBe(false);
    expect(m('$["odd key"].x', ['odd key', 'x'])).toBe(true);
    expect(parseFieldPattern('headers.Date').matches({ area: 'header', name: 'date' })).toBe(true);
    expect(parseFieldPattern('status').matches({ area: 'status' })).toBe(true);
  });

  it('when a pattern is malformed, then the message says what to fix', () => {
    expect(() => parseFieldPattern('items.id')).toThrow(/must be status, headers.<name>, or a body path starting with \$/);
    expect(() => parseFieldPattern('$.items[x]')).toThrow(/expected \[\*\], \[n\] or \["key"\] at character 8/);
    expect(() => parseFieldPattern('$..')).toThrow(/expected a key after \.\./);
  });
});

describe('compareResponses', () => {
  it('when the answers are the same bytes, then nothing differs (without parsing)', () => {
    expect(diff('{not json', '{not json')).toEqual([]);
  });

  it('when one field differs, then it is named by its path, with both values; indexes fold in the field', () => {
    const a = {
      items: [
        { id: 1, title: 'A' },
        { id: 2, title: 'B' },
      ],
      total: 2,
    };
    const b = {
      items: [
        { id: 1, title: 'A' },
        { id: 2, title: 'b' },
      ],
      total: 2,
    };
    expect(diff(a, b)).toEqual([{ path: '$.items[1].title', field: '$.items[*].title', kind: 'changed', a: 'B', b: 'b' }]);
  });

  it('when keys are missing, extra, or change type, then each says so', () => {
    expect(diff({ a: 1, b: 2 }, { a: '1', c: 3 })).toEqual([
      { path: '$.a', field: '$.a', kind: 'type', a: 1, b: '1' },
      { path: '$.b', field: '$.b', kind: 'missing', a: 2 },
      { path: '$.c', field: '$.c', kind: 'extra', b: 3 },
    ]);
  });

  it('when status or a chosen header differs, then they are listed; other headers are not compared', () => {
    const out = compareResponses(
      res({}, { status: 200, headers: { etag: '1' } }),
      res({}, { status: 404, headers: { 'content-type': 'text/plain', etag: '2' } }),
      compileRules({}),
    );
    expect(out.map((d) => d.path)).toEqual(['status', 'headers.content-type']);
  });

  it('when fields are ignored, numbers within tolerance, timestamps the same instant, or arrays sets by key, then they match', () => {
    const a = {
      updatedAt: '2026-01-01T00:00:00.000Z',
      at: '2026-01-01T10:00:00Z',
      rating: 4.5,
      items: [
        { id: 1, x: 'a' },
        { id: 2, x: 'b' },
      ],
      meta: { requestId: 'r1' },
    };
    const b = {
      updatedAt: '2026-01-02T00:00:00.000Z',
      at: '2026-01-01T11:00:00+01:00',
      rating: 4.52,
      items: [
        { id: 2, x: 'b' },
        { id: 1, x: 'a' },
      ],
      meta: { requestId: 'r2' },
    };
    expect(diff(a, b).map((d) => d.path)).toEqual([
      '$.items[0].id',
      '$.items[0].x',
      '$.items[1].id',
      '$.items[1].x',
      '$.meta.requestId',
      '$.rating',
      '$.updatedAt',
    ]);
    expect(diff(a, b, { ignore: ['$.updatedAt', '$..requestId'], tolerance: { '$.rating': 0.05 }, sets: { '$.items': 'id' } })).toEqual([]);
    expect(diff({ t: '2026-01-01T00:00:00Z' }, { t: '2026-01-01T00:00:00.900Z' }, { timestampToleranceMs: 1000 })).toEqual([]);
  });

  it('when a body is not JSON, then it is compared by hash', () => {
    const out = compareResponses(
      res('<p>a</p>', { headers: { 'content-type': 'text/html' } }),
      res('<p>b</p>', { headers: { 'content-type': 'text/html' } }),
      compileRules({}),
    );
    expect(out).toEqual([
      {
        path: '$',
        field: '$',
        kind: 'changed',
        a: expect.stringMatching(/^sha256:[0-9a-f]{16} \(8 bytes\)$/),
        b: expect.stringMatching(/^sha256:/),
      },
    ]);
  });

  it('when there are very many differences, then the list is bounded and says how many more', () => {
    const a = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, i]));
    const b = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, i + 1]));
    const out = diff(a, b);
    expect(out).toHaveLength(51);
    expect(out.at(-1)).toMatchObject({ field: '(more)' });
  });

  it('property: any JSON equals itself, re-serialised with its keys in another order', () => {
    const shuffle = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(shuffle)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, shuffle(x)]),
            )
          : v;
    fc.assert(fc.property(fc.jsonValue(), (v) => diff(v, shuffle(v)).length === 0));
  });

  it('property: ignoring every field that differed leaves no difference', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 6 }).filter((k) => /^[a-z]+$/.test(k)),
          fc.jsonValue(),
        ),
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 6 }).filter((k) => /^[a-z]+$/.test(k)),
          fc.jsonValue(),
        ),
        (a, b) => {
          const fields = diff(a, b).map((d) => d.field);
          return diff(a, b, { ignore: fields.filter((f) => f !== '(more)') }).filter((d) => d.field !== '(more)').length === 0;
        },
      ),
    );
  });
});
