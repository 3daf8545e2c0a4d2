/**
 * A sender's communication quality (seed 000): a score 0-100 from packet
 * loss, round-trip time, jitter, frame rate against its target and bandwidth
 * headroom, with hysteresis (pure: no I/O). The gateway samples each
 * participant's mediasoup producers every QUALITY_SAMPLE_MS and adds what the
 * client reports of its own uplink (`media:stats`: RTT, available outgoing
 * bitrate, frames per second).
 */

import { rawScore, SmoothedScore } from '@gw/common';

export { rawScore };

export const QUALITY_SAMPLE_MS = 2000;

/** Counters of one sample of a participant's producers (summed over them). */
export interface ProducerCounters {
  /** Packets received and reported lost (RTCP) so far. */
  packets: number;
  lost: number;
  /** Inbound bitrate now (bits per second). */
  bitrate: number;
  /** Inter-arrival jitter, milliseconds (the worst stream). */
  jitterMs: number;
}

/** What the client says of its own uplink (`media:stats`), latest. */
export interface ClientReport {
  rttMs?: number;
  /** The congestion controller's estimate of what the uplink carries. */
  availableKbps?: number;
  fps?: number;
  /** The frame rate the client means to send (its camera's). */
  targetFps?: number;
}

export interface Quality {
  score: number;
  lossPct: number;
  rttMs?: number;
  kbps: number;
  fps?: number;
  jitterMs: number;
}

/**
 * One participant's quality over time: loss from counter differences between
 * samples, the score smoothed so that it falls fast (a link that drops frames
 * is cut at once) and recovers slowly (it must hold its headroom first), and
 * a change reported only when it moved by HYSTERESIS points.
 */
export class QualityTracker {
  #last: ProducerCounters | undefined;
  readonly #score = new SmoothedScore();
  #current: Quality | undefined;
  client: ClientReport = {};

  /** The quality as of the latest sample (undefined before the second one). */
  get current(): Quality | undefined {
    return this.#current;
  }

  /** Adds a sample; returns the quality to report when it changed enough to say so, else undefined. */
  sample(counters: ProducerCounters): Quality | undefined {
    const previous = this.#last;
    this.#last = counters;
    if (!previous) return undefined;
    const packets = counters.packets - previous.packets;
    const lost = Math.max(0, counters.lost - previous.lost);
    // A producer replaced (counters went back) gives no loss figure this time.
    const lossPct = packets >= 0 && packets + lost > 0 ? Math.round((lost / (packets + lost)) * 1000) / 10 : 0;
    const kbps = Math.round(counters.bitrate / 1000);
    const raw = rawScore({ lossPct, rttMs: this.client.rttMs, jitterMs: counters.jitterMs, fps: this.client.fps, targetFps: this.client.targetFps, kbps, availableKbps: this.client.availableKbps });
    const { score, report } = this.#score.add(raw);
    this.#current = {
      score,
      lossPct,
      ...(this.client.rttMs !== undefined ? { rttMs: Math.round(this.client.rttMs) } : {}),
      kbps,
      ...(this.client.fps !== undefined ? { fps: Math.round(this.client.fps * 10) / 10 } : {}),
      jitterMs: Math.round(counters.jitterMs),
    };
    return report ? this.#current : undefined;
  }
}
