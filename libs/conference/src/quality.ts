/**
 * A sender's communication quality (seed 000): a score 0-100 from packet
 * loss, round-trip time, jitter, frame rate against its target and bandwidth
 * headroom, with hysteresis (pure: no I/O). The gateway samples each
 * participant's mediasoup producers every QUALITY_SAMPLE_MS and adds what the
 * client reports of its own uplink (`media:stats`: RTT, available outgoing
 * bitrate, frames per second).
 */

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

/** The score of one observation, before smoothing. Each term costs points; 100 is a clean link. */
export function rawScore(o: { lossPct: number; rttMs?: number; jitterMs: number; fps?: number; targetFps?: number; kbps: number; availableKbps?: number }): number {
  let penalty = 0;
  // Loss hurts most: 5 % costs 20 points, 15 % costs 60, 25 % and more everything.
  penalty += Math.min(100, o.lossPct * 4);
  // Past 150 ms a conversation starts to suffer: 450 ms costs 30 points (at most 40).
  if (o.rttMs !== undefined) penalty += Math.min(40, Math.max(0, o.rttMs - 150) / 10);
  // Jitter past 30 ms: 90 ms costs 20 (at most 30).
  penalty += Math.min(30, Math.max(0, o.jitterMs - 30) / 3);
  // Frames dropped against the camera's rate: half the frames cost 25 points.
  if (o.fps !== undefined && o.targetFps) penalty += Math.min(50, Math.max(0, 1 - o.fps / o.targetFps) * 50);
  // No headroom: sending more than the uplink is estimated to carry.
  if (o.availableKbps !== undefined && o.kbps > 0 && o.availableKbps < o.kbps) penalty += Math.min(30, (1 - o.availableKbps / o.kbps) * 60);
  return Math.max(0, Math.min(100, Math.round(100 - penalty)));
}

/**
 * One participant's quality over time: loss from counter differences between
 * samples, the score smoothed so that it falls fast (a link that drops frames
 * is cut at once) and recovers slowly (it must hold its headroom first), and
 * a change reported only when it moved by HYSTERESIS points.
 */
export class QualityTracker {
  static readonly FALL = 0.6;
  static readonly RISE = 0.2;
  static readonly HYSTERESIS = 5;
  #last: ProducerCounters | undefined;
  #smoothed: number | undefined;
  #reported: Quality | undefined;
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
    const s = this.#smoothed;
    this.#smoothed = s === undefined ? raw : s + (raw < s ? QualityTracker.FALL : QualityTracker.RISE) * (raw - s);
    this.#current = {
      score: Math.round(this.#smoothed),
      lossPct,
      ...(this.client.rttMs !== undefined ? { rttMs: Math.round(this.client.rttMs) } : {}),
      kbps,
      ...(this.client.fps !== undefined ? { fps: Math.round(this.client.fps * 10) / 10 } : {}),
      jitterMs: Math.round(counters.jitterMs),
    };
    if (this.#reported && Math.abs(this.#reported.score - this.#current.score) < QualityTracker.HYSTERESIS) return undefined;
    this.#reported = this.#current;
    return this.#current;
  }
}
