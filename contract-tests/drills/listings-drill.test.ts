import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drain, verify } from '@strangler/data';
import { supplier, listingBody, type Actor } from '@strangler/stack/testing';
import { runDrill, summary } from '../src/drill.ts';
import { startSystem, type System } from '../src/system.ts';

let system: System;
beforeAll(async () => {
  system = await startSystem('monolith');
});
afterAll(() => system?.close());

describe('rollback drill: listings', () => {
  it('when 2 000 writes run while the listings group flips monolith → service → monolith, then every write lands once on both sides', async () => {
    const suppliers: (Actor & { supplier: { id: number } })[] = [];
    const own: number[] = [];
    for (let w = 0; w < 8; w++) {
      const s = await supplier({ url: system.url, db: system.writerDb('auth') });
      suppliers.push(s);
      own.push((await s.client.post('/api/listings', listingBody({ title: `drill own ${w}` }))).body.listing.id);
    }
    const created = new Map<string, number>();
    const lastDescription = new Map<number, string>();
    const report = await runDrill({
      system,
      service: 'listings',
      writes: 2_000,
      concurrency: 8,
      switchAt: [600, 1_300],
      // Three creates, then an edit of the worker's own listing: each worker's edits are in order,
      // so the last one acknowledged is the value both sides must hold.
      write: (w, seq) =>
        seq % 4 === 3
          ? suppliers[w]!.client.patch(`/api/listings/${own[w]}`, { description: `edit ${seq}` })
          : suppliers[w]!.client.post('/api/listings', listingBody({ title: `drill ${seq}` })),
      onSuccess: (w, seq, res) => {
        if (seq % 4 === 3) lastDescription.set(own[w]!, `edit ${seq}`);
        else created.set(`drill ${seq}`, res.body.listing.id);
      },
    });

    const data = system.data.listings;
    await drain(data);
    const verdicts = await verify(data);
    const sides = await Promise.all(
      [data.pools.monolith, data.pools.service].map(async (pool) => {
        const rows = (await pool.query(`SELECT id::int, title, description FROM listings WHERE title LIKE 'drill %'`)).rows as {
          id: number;
          title: string;
          description: string;
        }[];
        const byTitle = new Map<string, number[]>();
        for (const r of rows) byTitle.set(r.title, [...(byTitle.get(r.title) ?? []), r.id]);
        const lost = [...created].filter(([title, id]) => byTitle.get(title)?.[0] !== id).length;
        const duplicated =
          [...byTitle.values()].filter((ids) => ids.length > 1).length +
          rows.filter((r) => r.title.startsWith('drill ') && !r.title.startsWith('drill own') && !created.has(r.title)).length;
        const staleEdits = [...lastDescription].filter(([id, d]) => rows.find((r) => r.id === id)?.description !== d).length;
        return { lost, duplicated, staleEdits };
      }),
    );
    console.log(summary(report, { monolith: sides[0], service: sides[1], checksumsEqual: verdicts.every((v) => v.equal) }));

    expect(report.failures, report.failures.join('\n')).toEqual([]);
    expect(report.writes).toBe(2_000);
    expect(report.switches.map((s) => [s.from, s.to, s.outcome])).toEqual([
      ['monolith', 'service', 'switched'],
      ['service', 'monolith', 'switched'],
    ]);
    expect(report.retried503).toBeGreaterThan(0);
    expect(sides).toEqual([
      { lost: 0, duplicated: 0, staleEdits: 0 },
      { lost: 0, duplicated: 0, staleEdits: 0 },
    ]);
    expect(verdicts.filter((v) => !v.equal)).toEqual([]);
    // Created on both sides while each wrote: ids from both ranges, none colliding.
    const ids = [...created.values()];
    expect(ids.some((id) => id >= 1_000_000_000) && ids.some((id) => id < 1_000_000_000)).toBe(true);
  }, 120_000);
});
