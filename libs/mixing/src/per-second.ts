/**
 * Counts events over the last second (frames written, pictures decoded). The
 * times are pruned on every record and read, so the list stays one second long.
 */
export class PerSecond {
  readonly #times: number[] = [];

  record(now = Date.now()): void {
    this.#times.push(now);
    this.#prune(now);
  }

  /** Events in the second before `now`. */
  rate(now = Date.now()): number {
    this.#prune(now);
    return this.#times.length;
  }

  #prune(now: number): void {
    let drop = 0;
    while (drop < this.#times.length && now - this.#times[drop] >= 1000) drop++;
    if (drop) this.#times.splice(0, drop);
  }
}
