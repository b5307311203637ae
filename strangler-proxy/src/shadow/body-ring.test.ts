import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BodyRing } from './body-ring.ts';

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('the body ring', () => {
  it('gives back a record as it was put in, its parts one after the other', () => {
    const writer = BodyRing.create(1024);
    const reader = new BodyRing(writer.shared);
    const parts = [bytes(10, 1), bytes(0, 2), bytes(90, 3)];
    const at = writer.put(parts, 100);
    expect(at).toBe(0);
    expect(reader.take(at, 100).equals(Buffer.concat(parts))).toBe(true);
  });

  it('starts a record that would pass the end at the beginning, and frees the skipped space once the reader passes it', () => {
    const writer = BodyRing.create(1024);
    const reader = new BodyRing(writer.shared);
    const held = [0, 1, 2, 3].map((i) => writer.put([bytes(250, i)], 250));
    expect(held).toEqual([0, 250, 500, 750]);
    for (const at of held.slice(0, 3)) reader.take(at, 250);
    // 1000 written, 24 to the end: a 200-byte record goes at the next lap's start, 1024.
    const next = writer.put([bytes(200, 4)], 200);
    expect(next).toBe(1024);
    expect(reader.take(held[3]!, 250).equals(bytes(250, 3))).toBe(true);
    expect(reader.take(next, 200).equals(bytes(200, 4))).toBe(true);
    // Everything taken, the skipped 24 bytes with it: three more quarters fit after the last record.
    expect([5, 6, 7].map((i) => writer.put([bytes(256, i)], 256))).toEqual([1224, 1480, 1736]);
  });

  it('refuses a record while the reader has not freed room for it, and writes nothing of it', () => {
    const writer = BodyRing.create(1024);
    const reader = new BodyRing(writer.shared);
    const held = [0, 1, 2, 3].map((i) => writer.put([bytes(256, i)], 256));
    expect(held).toEqual([0, 256, 512, 768]);
    expect(writer.put([bytes(1, 9)], 1)).toBe(-1);
    expect(reader.take(held[0]!, 256).equals(bytes(256, 0))).toBe(true);
    expect(writer.put([bytes(256, 4)], 256)).toBe(1024);
    // The refused byte wrote nothing over the record still held.
    expect(reader.take(held[1]!, 256).equals(bytes(256, 1))).toBe(true);
  });

  it('refuses a record of more than a quarter of the ring, even when empty', () => {
    const writer = BodyRing.create(1024);
    expect(writer.put([bytes(257, 1)], 257)).toBe(-1);
    expect(writer.put([bytes(256, 1)], 256)).toBe(0);
  });

  it('carries on across 2³², where the positions wrap', () => {
    const start = 2 ** 32 - 300;
    const writer = BodyRing.create(1024, start);
    const reader = new BodyRing(writer.shared);
    for (let i = 0; i < 20; i++) {
      const at = writer.put([bytes(100, i)], 100);
      expect(at).toBeGreaterThanOrEqual(0);
      expect(reader.take(at, 100).equals(bytes(100, i))).toBe(true);
    }
  });

  it('hands records between two running threads intact, the writer trying again after a refusal', async () => {
    const writer = BodyRing.create(64 * 1024);
    const reader = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       import(workerData.module).then(({ BodyRing }) => {
         const ring = new BodyRing(workerData.shared);
         let bad = 0, n = 0;
         parentPort.on('message', (records) => {
           if (records === 'end') return parentPort.postMessage({ bad, n });
           for (const [at, size, seed] of records) {
             const got = ring.take(at, size);
             for (let i = 0; i < size; i++) if (got[i] !== ((i * 31 + seed) & 0xff)) { bad++; break; }
             n++;
           }
         });
         parentPort.postMessage('ready');
       });`,
      { eval: true, workerData: { module: new URL('./body-ring.ts', import.meta.url).href, shared: writer.shared } },
    );
    // A reader that dies says why, instead of leaving the writer waiting for room until the timeout.
    let died: Error | undefined;
    const dead = new Promise<never>((_, reject) => {
      reader.once('error', (err) => reject((died = err)));
      reader.once('exit', (code) => reject((died ??= new Error(`the reader thread exited with ${code}`))));
    });
    dead.catch(() => {});
    await Promise.race([new Promise((resolve) => reader.once('message', resolve)), dead]);
    const RECORDS = 3_000;
    let batch: [number, number, number][] = [];
    for (let i = 0; i < RECORDS; i++) {
      const size = (i * 7919) % 16_384;
      const body = bytes(size, i & 0xff);
      let at = writer.put([body.subarray(0, size >> 1), body.subarray(size >> 1)], size);
      while (at < 0) {
        if (died) throw died;
        // Full: what is written so far goes to the reader, which frees room as it takes it.
        reader.postMessage(batch);
        batch = [];
        await new Promise((r) => setTimeout(r, 1));
        at = writer.put([body], size);
      }
      batch.push([at, size, i & 0xff]);
      if (batch.length >= 8) {
        reader.postMessage(batch);
        batch = [];
      }
    }
    reader.postMessage(batch);
    reader.postMessage('end');
    const result = await Promise.race([
      new Promise<{ bad: number; n: number }>((resolve) =>
        reader.on('message', (m) => typeof m === 'object' && resolve(m as { bad: number; n: number })),
      ),
      dead,
    ]);
    reader.removeAllListeners('exit');
    await reader.terminate();
    expect(result).toEqual({ bad: 0, n: RECORDS });
  });
});
