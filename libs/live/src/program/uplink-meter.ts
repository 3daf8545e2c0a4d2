import { rawScore, SmoothedScore } from '@gw/common';

/** A host's RTMP uplink as the gateway sees it arrive (pure: fed tag arrivals, no I/O). */
export interface UplinkQuality {
  score: number;
  kbps: number;
  fps: number;
  /** Arrival jitter of video frames against their timestamps (RFC 3550's estimator), ms. */
  jitterMs: number;
  /** The longest wait between two video frames in the window, ms. */
  longestGapMs: number;
}

/** How long one window of the meter is. */
export const UPLINK_WINDOW_MS = 2000;

/**
 * The quality of a host's push (seed 000's score for a host uplink), from
 * when its FLV tags arrive: over TCP a weak uplink shows no loss, it shows as
 * frames arriving late and bunched (jitter), fewer frames than the stream's
 * rate (frame drops, stalls) and fewer bytes. Each UPLINK_WINDOW_MS window is
 * scored with the participants' scale (rawScore) and smoothed the same way.
 */
export class UplinkMeter {
  readonly #score = new SmoothedScore();
  #windowStart: number | undefined;
  #frames = 0;
  #bytes = 0;
  #lastArrival: number | undefined;
  #longestGap = 0;
  #lastTransit: number | undefined;
  #jitter = 0;
  #current: UplinkQuality | undefined;

  /** `targetFps`: the push's own frame rate (its metadata), when known. */
  constructor(private targetFps?: number) {}

  get current(): UplinkQuality | undefined {
    return this.#current;
  }

  setTargetFps(fps: number | undefined): void {
    this.targetFps = fps;
  }

  /**
   * One tag arrived at `arrivalMs` (wall clock) with timestamp `tsMs`.
   * Returns the window's quality when a window closed and the score moved
   * enough to report, else undefined.
   */
  tag(arrivalMs: number, tsMs: number, bytes: number, video: boolean): UplinkQuality | undefined {
    let reported: UplinkQuality | undefined;
    if (this.#windowStart === undefined) this.#windowStart = arrivalMs;
    else if (arrivalMs - this.#windowStart >= UPLINK_WINDOW_MS) reported = this.#close(arrivalMs);
    this.#bytes += bytes;
    if (video) {
      this.#frames += 1;
      if (this.#lastArrival !== undefined) this.#longestGap = Math.max(this.#longestGap, arrivalMs - this.#lastArrival);
      this.#lastArrival = arrivalMs;
      const transit = arrivalMs - tsMs;
      if (this.#lastTransit !== undefined) this.#jitter += (Math.abs(transit - this.#lastTransit) - this.#jitter) / 16;
      this.#lastTransit = transit;
    }
    return reported;
  }

  /** The push restarted (timestamps start over): its transit times are not comparable with the old ones. */
  restart(): void {
    this.#lastTransit = undefined;
  }

  #close(now: number): UplinkQuality | undefined {
    const seconds = (now - this.#windowStart!) / 1000;
    const fps = Math.round((this.#frames / seconds) * 10) / 10;
    const kbps = Math.round((this.#bytes * 8) / seconds / 1000);
    // A gap is also the time since the last frame, when frames stopped coming.
    const longestGapMs = Math.max(this.#longestGap, this.#lastArrival !== undefined ? now - this.#lastArrival : 0);
    const raw = rawScore({ lossPct: 0, jitterMs: this.#jitter, fps, targetFps: this.targetFps, kbps });
    // A stall longer than half a second costs what the frame count alone does not show (frames bunched after it).
    const stallPenalty = Math.min(40, Math.max(0, longestGapMs - 500) / 25);
    const { score, report } = this.#score.add(Math.max(0, raw - stallPenalty));
    this.#current = { score, kbps, fps, jitterMs: Math.round(this.#jitter), longestGapMs };
    this.#windowStart = now;
    this.#frames = 0;
    this.#bytes = 0;
    this.#longestGap = 0;
    return report ? this.#current : undefined;
  }
}
