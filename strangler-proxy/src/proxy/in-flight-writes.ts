/**
 * Writes in flight, counted by the route table version they were routed with. A writer switch
 * freezes a route with a new table, then waits until no write routed by an older table is still
 * running: only then has the old writer seen its last write.
 */
export class InFlightWrites {
  readonly #byVersion = new Map<number, number>();

  /** Counts a write in; returns the function that counts it out (once). */
  enter(version: number): () => void {
    this.#byVersion.set(version, (this.#byVersion.get(version) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = this.#byVersion.get(version)! - 1;
      if (n === 0) this.#byVersion.delete(version);
      else this.#byVersion.set(version, n);
    };
  }

  /** Writes still running that were routed by a table older than `version`. */
  olderThan(version: number): number {
    let n = 0;
    for (const [v, count] of this.#byVersion) if (v < version) n += count;
    return n;
  }

  total(): number {
    let n = 0;
    for (const count of this.#byVersion.values()) n += count;
    return n;
  }
}
