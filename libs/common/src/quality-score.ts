/**
 * A sender's communication quality score (seed 000), shared by conference
 * participants (libs/conference/src/quality.ts) and hosts' RTMP uplinks
 * (libs/live/src/program/uplink-meter.ts). Pure: no I/O.
 */

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
 * A score smoothed so that it falls fast (a link that drops frames is cut at
 * once) and recovers slowly (it must hold its headroom first), reporting a
 * change only when it moved by HYSTERESIS points.
 */
export class SmoothedScore {
  static readonly FALL = 0.6;
  static readonly RISE = 0.2;
  static readonly HYSTERESIS = 5;
  #smoothed: number | undefined;
  #reported: number | undefined;

  /** Adds a raw score; returns the smoothed one, and whether it moved enough to report. */
  add(raw: number): { score: number; report: boolean } {
    const s = this.#smoothed;
    this.#smoothed = s === undefined ? raw : s + (raw < s ? SmoothedScore.FALL : SmoothedScore.RISE) * (raw - s);
    const score = Math.round(this.#smoothed);
    const report = this.#reported === undefined || Math.abs(this.#reported - score) >= SmoothedScore.HYSTERESIS;
    if (report) this.#reported = score;
    return { score, report };
  }
}
