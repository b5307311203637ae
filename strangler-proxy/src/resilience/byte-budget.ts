/**
 * A budget of bytes shared by every request: what the proxy may hold buffered at once. Taking more
 * than is left fails at once (the caller answers 503), so a crowd of slow uploads costs a bounded
 * amount of memory, not one body limit per connection.
 */
export class ByteBudget {
  readonly max: number;
  #used = 0;

  constructor(max: number) {
    this.max = max;
  }

  get used(): number {
    return this.#used;
  }

  /** Takes `n` bytes; false (and nothing taken) when that would go past the budget. */
  tryTake(n: number): boolean {
    if (this.#used + n > this.max) return false;
    this.#used += n;
    return true;
  }

  give(n: number): void {
    this.#used = Math.max(0, this.#used - n);
  }
}
