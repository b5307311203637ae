import { describe, expect, it } from 'vitest';
import { DryRunMarks } from './dry-run-mark.ts';

describe('DryRunMarks', () => {
  const marks = DryRunMarks.fromSecrets('a-dry-run-secret-of-some-length', undefined);
  const now = Date.UTC(2026, 11, 1);

  it('when a mark was issued by the same key and has not expired, then it verifies', () => {
    expect(marks.verify(marks.issue(now), now + 60_000)).toBe(true);
    // Another proxy of the fleet, with the same secret, accepts it too.
    expect(DryRunMarks.fromSecrets('a-dry-run-secret-of-some-length', 'ignored-admin-token').verify(marks.issue(now), now)).toBe(true);
  });

  it('when a mark is forged, altered, expired or from another key, then it does not', () => {
    const mark = marks.issue(now);
    const [one, expires, sig] = mark.split('.') as [string, string, string];
    expect(marks.verify('1', now)).toBe(false);
    expect(marks.verify(`${one}.${Number(expires) + 3600}.${sig}`, now)).toBe(false);
    expect(marks.verify(`${one}.${expires}.${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`, now)).toBe(false);
    expect(marks.verify(mark, now + 301_000)).toBe(false);
    expect(DryRunMarks.fromSecrets(undefined, 'some-admin-token-0123456789').verify(mark, now)).toBe(false);
  });

  it('when no secret is configured, then the admin token keys the marks, so a fleet sharing it agrees', () => {
    const a = DryRunMarks.fromSecrets(undefined, 'shared-admin-token-0123456789');
    const b = DryRunMarks.fromSecrets(undefined, 'shared-admin-token-0123456789');
    expect(b.verify(a.issue(now), now)).toBe(true);
  });

  it('when marks are issued within one second, then they are the one mark of that second; the next second gets its own, and both verify', () => {
    const start = now + 250;
    const first = marks.issue(start);
    expect(marks.issue(start + 700)).toBe(first);
    const next = marks.issue(start + 800);
    expect(next).not.toBe(first);
    expect(next.split('.')[1]).toBe(String(Number(first.split('.')[1]) + 1));
    expect(marks.verify(first, start + 800)).toBe(true);
    expect(marks.verify(next, start + 800)).toBe(true);
    // An earlier second asked for after a later one (a clock stepping back) is made afresh, not served stale.
    expect(marks.issue(start)).toBe(first);
  });
});
