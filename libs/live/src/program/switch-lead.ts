/**
 * A lead before a switch to a feed that trails the one on air (pure: no I/O).
 *
 * A co-hosting mix shows the host's push later than the push itself reaches
 * the program (ingest into the SFU, decode, compose, encode: ~100 ms more on
 * this machine), and the program splices it in at its first keyframe showing
 * the host. Without a lead, the last frame of the host's own push and the
 * mix's first frame are consecutive pictures that reach the viewer that much
 * apart: a frozen picture at every switch-in (the cohost bench's switch-in gap).
 *
 * With a lead, from the moment a trailing feed is known to be coming (the mix
 * starts, about a second before it shows the host), each tag of the feed on
 * air is written a little later than it arrived: the delay grows at `rate` of
 * the time elapsed (0.2: 48 ms between 25 fps frames instead of 40), up to
 * `maxMs`. By the splice the feed on air is as late as the mix, so the splice
 * shows the next picture on time, and what of it was still held is dropped
 * (the mix shows those moments itself). A switch that does not come within
 * `giveUpMs` gives the delay back at the same rate.
 */
export interface SwitchLeadOptions {
  /** The largest delay, ms (the trailing feed's extra latency, or a little more: more only skips a frame or two). */
  maxMs: number;
  /** How fast the delay grows and shrinks, as a fraction of wall time (0 < rate < 1). Default 0.2. */
  rate?: number;
  /** With no switch this long after the start, the delay is given back. Default 10 s. */
  giveUpMs?: number;
}

export class SwitchLead {
  readonly #maxMs: number;
  readonly #rate: number;
  readonly #giveUpMs: number;
  #startedAt: number;
  /** Since when the delay is given back, and how large it was then; undefined while it grows. */
  #shrinking: { from: number; delayMs: number } | undefined;

  constructor(now: number, o: SwitchLeadOptions) {
    this.#maxMs = Math.max(0, o.maxMs);
    this.#rate = Math.min(0.9, Math.max(0.01, o.rate ?? 0.2));
    this.#giveUpMs = o.giveUpMs ?? 10_000;
    this.#startedAt = now;
  }

  /** The delay (ms) a tag that arrives at `now` gets. Never falls faster than time passes, so tags keep their order. */
  delayAt(now: number): number {
    if (!this.#shrinking && now - this.#startedAt > this.#giveUpMs) this.giveBack(this.#startedAt + this.#giveUpMs);
    if (this.#shrinking) return Math.max(0, this.#shrinking.delayMs - this.#rate * (now - this.#shrinking.from));
    return Math.min(this.#maxMs, this.#rate * Math.max(0, now - this.#startedAt));
  }

  /** A trailing feed is coming again (another mix start): the delay grows again from where it is. */
  renew(now: number): void {
    const current = this.delayAt(now);
    this.#shrinking = undefined;
    this.#startedAt = now - current / this.#rate;
  }

  /** No switch is coming any more: the delay is given back from `now`. */
  giveBack(now: number): void {
    if (this.#shrinking) return;
    this.#shrinking = { from: now, delayMs: this.delayAt(now) };
  }

  /** True once the delay is given back entirely (nothing is delayed any more). */
  done(now: number): boolean {
    return this.#shrinking !== undefined && this.delayAt(now) <= 0;
  }
}
