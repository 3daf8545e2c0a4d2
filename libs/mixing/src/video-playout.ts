/**
 * When each decoded picture of one participant is shown in the mix: by its sender's timestamp
 * (the RTP timestamp, as the decoder reports it), not by when it happened to arrive. A picture that
 * was held up on the way (a packet recovered by NACK, a reorder wait) used to arrive together with
 * the next one, and the compositor, which draws the latest picture at its own clock, showed only
 * the second: one picture lost per late one (at 15 % loss a tenth of the pictures). Here every
 * picture is shown at `pts + P`, where P is the participant's playout offset:
 *
 * - a picture later than P (o = arrival − pts > P) is shown at once and P grows to it, so the
 *   pictures behind it keep their spacing instead of landing in one tick (bounded by maxDelayMs
 *   over the earliest offset seen, `base`: a longer hold would cost more latency than the lost
 *   picture);
 * - otherwise P shrinks, at most decayMsPerSecond, toward `base + q`, q being the quantile of
 *   the recent offsets' lateness (so a path that keeps delaying pictures keeps the hold it needs
 *   and does not grow and shrink at each loss, and a clean path goes back to almost none);
 * - base is the smallest offset of the last windowMs, so it follows a sender clock that drifts.
 *
 * The first warmupMs of a decoder's pictures are shown as they come: they include what the decoder
 * read while probing, which arrives as one burst and says nothing of the path. A pts that jumps
 * against the wall clock (a new stream, a sender restart) starts over. Pure: times in, times out.
 */
export interface VideoPlayoutOptions {
  /** The most P may exceed base by. Default 300 ms. */
  maxDelayMs?: number;
  /** How far back base and the lateness quantile look. Default 10 s. */
  windowMs?: number;
  /** The lateness quantile P settles to. Default 0.95. */
  quantile?: number;
  /** How fast P shrinks toward its target. Default 100 ms per second. */
  decayMsPerSecond?: number;
  /** Pictures shown as they arrive after a start. Default 1000 ms. */
  warmupMs?: number;
  /** A pts step that differs from the wall-clock step by more than this starts over. Default 2000 ms. */
  discontinuityMs?: number;
}

interface Sample {
  at: number;
  offset: number;
}

export class VideoPlayout {
  readonly #maxDelay: number;
  readonly #window: number;
  readonly #quantile: number;
  readonly #decay: number;
  readonly #warmup: number;
  readonly #discontinuity: number;
  #startedAt: number | undefined;
  #p: number | undefined;
  #lastPts: number | undefined;
  #lastArrival: number | undefined;
  #samples: Sample[] = [];
  #target: number | undefined;
  #targetAt = -Infinity;
  /** Pictures later than P when they arrived (each held P up), and resets, for stats. */
  late = 0;
  resets = 0;

  constructor(options: VideoPlayoutOptions = {}) {
    this.#maxDelay = options.maxDelayMs ?? 300;
    this.#window = options.windowMs ?? 10000;
    this.#quantile = options.quantile ?? 0.95;
    this.#decay = options.decayMsPerSecond ?? 100;
    this.#warmup = options.warmupMs ?? 1000;
    this.#discontinuity = options.discontinuityMs ?? 2000;
  }

  /** Forgets the stream (a new decoder). */
  reset(): void {
    this.#startedAt = undefined;
    this.#p = undefined;
    this.#lastPts = undefined;
    this.#lastArrival = undefined;
    this.#samples = [];
    this.#target = undefined;
    this.#targetAt = -Infinity;
  }

  /**
   * How long the latest pictures were held past their earliest possible showing (P − base), in ms;
   * 0 before the playout settles.
   */
  get holdMs(): number {
    const base = this.#base();
    return this.#p === undefined || base === undefined ? 0 : Math.max(0, Math.round(this.#p - base));
  }

  /**
   * When to show a picture with sender timestamp ptsMs that arrived at arrivalMs (both in ms, any
   * origin each). Without a timestamp, at once.
   */
  schedule(ptsMs: number | undefined, arrivalMs: number): number {
    if (ptsMs === undefined || !Number.isFinite(ptsMs)) return arrivalMs;
    if (this.#lastPts !== undefined && this.#lastArrival !== undefined) {
      const step = ptsMs - this.#lastPts;
      if (step < -1 || Math.abs(step - (arrivalMs - this.#lastArrival)) > this.#discontinuity) {
        this.reset();
        this.resets += 1;
      }
    }
    const elapsed = this.#lastArrival === undefined ? 0 : Math.max(0, arrivalMs - this.#lastArrival);
    this.#lastPts = ptsMs;
    this.#lastArrival = arrivalMs;
    this.#startedAt ??= arrivalMs;
    if (arrivalMs - this.#startedAt < this.#warmup) return arrivalMs;

    const offset = arrivalMs - ptsMs;
    this.#samples.push({ at: arrivalMs, offset });
    while (this.#samples.length && arrivalMs - this.#samples[0].at > this.#window) this.#samples.shift();
    const base = this.#base()!;
    if (this.#p === undefined) this.#p = offset;
    else {
      const target = this.#targetOffset(arrivalMs, base);
      if (this.#p > target) this.#p = Math.max(target, this.#p - (this.#decay * elapsed) / 1000);
    }
    if (offset > this.#p) {
      this.late += 1;
      this.#p = offset;
    }
    this.#p = Math.min(this.#p, base + this.#maxDelay);
    return ptsMs + this.#p;
  }

  #base(): number | undefined {
    let min: number | undefined;
    for (const s of this.#samples) if (min === undefined || s.offset < min) min = s.offset;
    return min;
  }

  /** base + the lateness quantile, recomputed at most twice a second. */
  #targetOffset(now: number, base: number): number {
    if (this.#target === undefined || now - this.#targetAt >= 500) {
      // A picture later than maxDelayMs (a stall, a keyframe wait) is past what a hold could save:
      // counted, one stall would keep the longest hold for the whole window.
      const lateness = this.#samples
        .map((s) => s.offset - base)
        .filter((l) => l <= this.#maxDelay)
        .sort((a, b) => a - b);
      const q = lateness[Math.min(lateness.length - 1, Math.floor(this.#quantile * lateness.length))] ?? 0;
      this.#target = Math.min(q, this.#maxDelay);
      this.#targetAt = now;
    }
    return base + this.#target;
  }
}

/** Pictures (arrival, sender timestamp) `deliveredAtPace` looks at, and the pace that counts as caught up. */
export const PACE_PICTURES = 4;
const PACE_FRACTION = 0.6;

/**
 * Whether a decoder delivers its pictures at the sender's pace, from the last
 * PACE_PICTURES (arrival ms, pts ms), oldest first. A decoder that starts
 * behind its input (the RTP that waited in its socket while it started, or
 * the burst its probe read) races through that backlog: pictures 40 ms apart
 * by the sender's clock arrive a few ms apart, each already old. Caught up =
 * the arrivals span at least 0.6 of what the timestamps span. Too few
 * pictures: not yet. Timestamps that do not advance: nothing to tell (true).
 */
export function deliveredAtPace(pictures: { arrival: number; pts: number }[]): boolean {
  if (pictures.length < PACE_PICTURES) return false;
  const recent = pictures.slice(-PACE_PICTURES);
  const ptsSpan = recent[recent.length - 1].pts - recent[0].pts;
  if (ptsSpan <= 0) return true;
  return recent[recent.length - 1].arrival - recent[0].arrival >= PACE_FRACTION * ptsSpan;
}
