/**
 * Which origin process serves a stream (seed 001: several media-server processes
 * behind one port, pushes spread in proportion to each one's allowed load). Pure:
 * the clock is passed in.
 *
 * The unit placed is a stream group: a channel (its host's source `live/<id>__host`
 * and its program `live/<id>`, which the gateway pulls and publishes side by side)
 * or any other stream on its own (`ingest/<stream>`). A group's first connection,
 * publish or play, picks the process with the least load after adding it
 * ((groups + 1) / weight; ties to the lower index), so with weights 1:2:3, 12
 * channels land 2, 4, 6. Every later connection of the group, publishers and
 * players alike, goes to the same process, so a play always reaches the process
 * that holds (or will hold) the stream, and a play that comes first (a viewer
 * waiting for a channel, the first viewer of an on-demand bypass mix) decides where
 * the publish will go. A group is kept `lingerMs` after its last connection closes,
 * so a publisher that reconnects within node-media-server's publish grace resumes
 * its timeline on the same process.
 */
import { channelOfStream, LIVE_APP } from '../origin-protocol';

/** The group a stream belongs to: its channel for the `live` app, else the stream itself. */
export function streamGroup(app: string, stream: string): string {
  return app === LIVE_APP ? `${LIVE_APP}/${channelOfStream(stream).channelId}` : `${app}/${stream}`;
}

interface Placed {
  index: number;
  connections: number;
  /** When a group without connections is forgotten. */
  expiresAt?: number;
}

export class OriginPlacement {
  readonly #groups = new Map<string, Placed>();

  constructor(
    readonly weights: readonly number[],
    private readonly lingerMs: number,
  ) {
    if (weights.length === 0 || weights.some((w) => !(w > 0))) throw new Error('every origin process needs a positive weight');
  }

  /**
   * A new connection of `group`: the process it goes to, or undefined when none of
   * them is available. Call `release` when it closes.
   */
  attach(group: string, available: (index: number) => boolean, now: number): number | undefined {
    this.#expire(now);
    const placed = this.#groups.get(group);
    if (placed && available(placed.index)) {
      placed.connections += 1;
      placed.expiresAt = undefined;
      return placed.index;
    }
    const loads = this.loads(now);
    let best: number | undefined;
    for (let i = 0; i < this.weights.length; i++) {
      if (!available(i)) continue;
      // (loads[i] + 1) / w[i] < (loads[best] + 1) / w[best], without rounding
      if (best === undefined || (loads[i] + 1) * this.weights[best] < (loads[best] + 1) * this.weights[i]) best = i;
    }
    if (best === undefined) return undefined;
    this.#groups.set(group, { index: best, connections: 1 });
    return best;
  }

  /** A connection of `group` on process `index` closed. */
  release(group: string, index: number, now: number): void {
    const placed = this.#groups.get(group);
    if (!placed || placed.index !== index) return; // its process died meanwhile and the group moved on
    placed.connections = Math.max(0, placed.connections - 1);
    if (placed.connections === 0) placed.expiresAt = now + this.lingerMs;
  }

  /** Process `index` died: everything on it ended, so its groups are placed afresh. */
  forgetProcess(index: number): void {
    for (const [group, placed] of this.#groups) if (placed.index === index) this.#groups.delete(group);
  }

  /** Where a group is now, if anywhere. */
  processOf(group: string, now: number): number | undefined {
    this.#expire(now);
    return this.#groups.get(group)?.index;
  }

  /** Groups on each process (the load before dividing by weight). */
  loads(now: number): number[] {
    this.#expire(now);
    const loads = this.weights.map(() => 0);
    for (const placed of this.#groups.values()) loads[placed.index] += 1;
    return loads;
  }

  #expire(now: number): void {
    for (const [group, placed] of this.#groups) {
      if (placed.expiresAt !== undefined && placed.expiresAt <= now) this.#groups.delete(group);
    }
  }
}
