import type { ServerResponse } from 'node:http';

/**
 * What is let go when a request ends, however it ends (answered, refused, the client gone): one
 * list, run once, in the order it was added, when the response closes. Each phase of a request adds
 * what it took — a write's place in flight, buffered bytes, an Idempotency-Key, a mirror slot, a
 * fallback slot, an upstream attempt — so nothing is released twice or forgotten. What is added
 * after the end is let go at once.
 */
export class RequestEnd {
  readonly #releases: (() => void)[] = [];
  #ended = false;

  constructor(res: ServerResponse) {
    // `on`, not `once`: a response closes once, and once's wrapper and its removal were ~1 % of the
    // proxy's CPU in bench:proxy's profile, over the two listeners every request has.
    res.on('close', () => {
      this.#ended = true;
      for (const release of this.#releases) release();
    });
  }

  add(release: () => void): void {
    if (this.#ended) release();
    else this.#releases.push(release);
  }
}
