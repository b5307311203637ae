/** One write being tracked: counted out once every hold on it has been released. */
export interface TrackedWrite {
  /** Keeps the write counted while some work on it goes on (an upstream attempt); returns the release (once). */
  hold(): () => void;
  /**
   * Keeps it counted `ms` longer: the proxy stopped waiting for an attempt after sending it, and
   * the upstream may still apply it for as long as its own timeout lets it run.
   */
  holdFor(ms: number): void;
}

/** Writes still running on tables older than a version, and how many of them only because an abandoned attempt may still commit. */
export interface InFlightCounts {
  writes: number;
  abandoned: number;
}

/**
 * Writes in flight, counted by the route table version they were routed with. A writer switch
 * freezes a route with a new table, then waits until no write routed by an older table is still
 * running: only then has the old writer seen its last write. A write is counted from routing until
 * its answer is sent and every upstream attempt of it is done — a client that got 504 has its
 * answer, but the upstream may still be committing its write.
 */
export class InFlightWrites {
  readonly #byVersion = new Map<number, InFlightCounts>();

  /** Counts a write in; its first hold is released by the returned function (the answer sent). */
  enter(version: number): TrackedWrite & { release: () => void } {
    let counts = this.#byVersion.get(version);
    if (!counts) this.#byVersion.set(version, (counts = { writes: 0, abandoned: 0 }));
    const c = counts;
    c.writes++;
    let holds = 0;
    const hold = (): (() => void) => {
      holds++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        if (--holds > 0) return;
        c.writes--;
        if (c.writes === 0 && c.abandoned === 0) this.#byVersion.delete(version);
      };
    };
    return {
      hold,
      holdFor(ms) {
        const release = hold();
        c.abandoned++;
        setTimeout(() => {
          c.abandoned--;
          release();
        }, ms).unref();
      },
      release: hold(),
    };
  }

  /** Writes still running that were routed by a table older than `version`. */
  olderThan(version: number): number {
    return this.countsOlderThan(version).writes;
  }

  countsOlderThan(version: number): InFlightCounts {
    const sum: InFlightCounts = { writes: 0, abandoned: 0 };
    for (const [v, c] of this.#byVersion) {
      if (v >= version) continue;
      sum.writes += c.writes;
      sum.abandoned += c.abandoned;
    }
    return sum;
  }

  total(): number {
    return this.olderThan(Infinity);
  }

  /** Every table version with writes still running, for the proxy's report to a shared store. */
  byVersion(): InFlightByVersion[] {
    return [...this.#byVersion].map(([version, c]) => ({ version, writes: c.writes, abandoned: c.abandoned }));
  }
}

export interface InFlightByVersion extends InFlightCounts {
  version: number;
}
