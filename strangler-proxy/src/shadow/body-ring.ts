/**
 * Bodies on their way to a mirror worker, in memory the two threads share: the event loop copies a
 * mirror's request body and the monolith's answer in as one record, the worker copies that record
 * out when its job arrives and so frees the space. Before this, each answer was copied into a
 * buffer of its own and that buffer moved with the job (an allocation, and a detach and re-attach
 * in the message), the largest part of what a mirror cost the event loop after the message itself.
 *
 * One writer (the event loop) and one reader (the worker), and the reader takes records in the
 * order they were written: a job's message carries where its record starts, and jobs reach the
 * worker in the order they were made. So the only thing the threads share besides the bytes is how
 * far the reader has got. Positions are byte counts since the start, modulo 2³², so they can live
 * in an Int32Array; a record never wraps past the end (the writer skips to the start instead).
 * A record that does not fit — the worker behind, or a body over a quarter of the ring — is
 * refused, and the caller sends its bytes with the message as before: nothing waits for space.
 */
export class BodyRing {
  /** The bytes. */
  readonly #bytes: Uint8Array;
  /** [0]: how far the reader has got, bytes modulo 2³². */
  readonly #read: Int32Array;
  /** How far the writer has got, bytes modulo 2³² (the writer's own). */
  #written = 0;
  readonly #mask: number;

  /** `size`: bytes, a power of two. `startAt`: the position both sides start from (tests start near 2³² to cross it). */
  static create(size: number, startAt = 0): BodyRing {
    if (!Number.isInteger(Math.log2(size)) || size < 1024) throw new RangeError(`ring size must be a power of two ≥ 1024, got ${size}`);
    const ring = new BodyRing({ bytes: new SharedArrayBuffer(size), read: new SharedArrayBuffer(4) });
    Atomics.store(ring.#read, 0, startAt | 0);
    ring.#written = startAt >>> 0;
    return ring;
  }

  /** The shared parts, to hand to the other thread (`new BodyRing(ring.shared)` there). */
  readonly shared: { bytes: SharedArrayBuffer; read: SharedArrayBuffer };

  constructor(shared: { bytes: SharedArrayBuffer; read: SharedArrayBuffer }) {
    this.shared = shared;
    this.#bytes = new Uint8Array(shared.bytes);
    this.#read = new Int32Array(shared.read);
    this.#mask = shared.bytes.byteLength - 1;
  }

  /**
   * Writer: copies `parts` (`size` bytes in all) in as one record. Returns where it starts, for
   * `take`, or -1 when it does not fit (nothing written).
   */
  put(parts: readonly Uint8Array[], size: number): number {
    const capacity = this.#mask + 1;
    if (size > capacity / 4) return -1;
    const at = this.#written & this.#mask;
    // Past the end: the rest of the ring is skipped, and counted as used until the reader passes it.
    const skip = at + size > capacity ? capacity - at : 0;
    const used = (this.#written - Atomics.load(this.#read, 0)) >>> 0;
    if (used + skip + size > capacity) return -1;
    const start = (this.#written + skip) >>> 0;
    let to = start & this.#mask;
    for (const p of parts) {
      this.#bytes.set(p, to);
      to += p.byteLength;
    }
    this.#written = (start + size) >>> 0;
    return start;
  }

  /** Reader: the record at `start`, `size` bytes, copied out; its space (and any skipped before it) is free from now on. */
  take(start: number, size: number): Buffer {
    const at = start & this.#mask;
    const out = Buffer.from(this.#bytes.subarray(at, at + size));
    Atomics.store(this.#read, 0, (start + size) | 0);
    return out;
  }
}
