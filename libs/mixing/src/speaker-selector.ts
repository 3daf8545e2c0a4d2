/**
 * Hysteresis for the speaker layout: the active-speaker observer's verdict is
 * followed only once it has held for `confirmMs`, and never sooner than
 * `holdMs` after the previous switch, so short interjections do not make the
 * layout flap. Pure; time is passed in.
 */
export class SpeakerSelector {
  #current: string | undefined;
  #candidate: string | undefined;
  #candidateSince = 0;
  #switchedAt = -Infinity;

  constructor(
    private readonly confirmMs = 1000,
    private readonly holdMs = 2500,
  ) {}

  /** The observer named a dominant speaker at time `now`. */
  observe(userId: string, now: number): void {
    if (userId !== this.#candidate) {
      this.#candidate = userId;
      this.#candidateSince = now;
    }
  }

  /** Forget someone who left. */
  remove(userId: string): void {
    if (this.#current === userId) this.#current = undefined;
    if (this.#candidate === userId) this.#candidate = undefined;
  }

  /** The speaker to show at `now`; switches when the candidate has held long enough. */
  current(now: number): string | undefined {
    const c = this.#candidate;
    if (c !== undefined && c !== this.#current) {
      const first = this.#current === undefined;
      if (first || (now - this.#candidateSince >= this.confirmMs && now - this.#switchedAt >= this.holdMs)) {
        this.#current = c;
        this.#switchedAt = now;
      }
    }
    return this.#current;
  }
}
