import { rawScore, SmoothedScore } from '@gw/common';

/**
 * Which path each packet of a bonded uplink takes (seed 000), pure: fed
 * sends, acknowledgements, losses and round trips; no I/O.
 *
 * - Every path gets a quality score (the participants' 0-100 scale: loss,
 *   round trip, and whether it carries what it is given), smoothed so that it
 *   falls at once when the path loses and climbs back slowly.
 * - Packets are dealt to the paths in proportion to their scores (smooth
 *   weighted round robin: weights 2:1:1:2 give shares 2/6, 1/6, 1/6, 2/6).
 * - A path scoring below `fecBelow` carries no share of its own: it only
 *   repeats every `fecEvery`-th packet (redundancy, about 10 %), which the SRT
 *   receiver drops when the original came.
 * - A path may not run ahead of what it has shown it carries: as SRTLA
 *   senders do, each has a window of packets in flight that grows with every
 *   acknowledgement and is cut by every loss; a full path is skipped.
 */
export interface SchedulerOptions {
  /** Below this score a path carries only redundancy. Default 50. */
  fecBelow?: number;
  /** One packet in this many is repeated over each redundancy-only path. Default 10. */
  fecEvery?: number;
}

export interface PathFigures {
  name: string;
  score: number;
  /** Share of the unique packets it carried over the last tick, %. */
  sharePct: number;
  lossPct: number;
  rttMs: number | undefined;
  /** Bytes it carried per second over the last tick, as kbit/s. */
  kbps: number;
  fecOnly: boolean;
  window: number;
  inFlight: number;
}

const WINDOW_MIN = 1000;
const WINDOW_START = 20_000;
const WINDOW_MAX = 60_000;
const WINDOW_PER_PACKET = 1000;
const WINDOW_CUT = 100;
const WINDOW_GROW_CONGESTED = 29;
/** How many sent sequence numbers are remembered (to tell which path lost one). */
const SENT_LOG = 16_384;

interface PathState {
  name: string;
  up: boolean;
  window: number;
  inFlight: Set<number>;
  current: number;
  /** What else limits its share (a helper's allowance): its weight is its score times this. */
  factor: number;
  score: SmoothedScore;
  lastScore: number;
  rttMs: number | undefined;
  tick: { sent: number; bytes: number; lost: number; redundant: number };
  last: { sent: number; bytes: number; lost: number; ms: number };
}

export class PathScheduler {
  readonly #paths: PathState[] = [];
  /** Sequence number → the path that carried it (recent ones). */
  readonly #carrier = new Map<number, PathState>();
  readonly #carrierOrder: number[] = [];
  /** Sequence number → the path that lost it, until it is sent again. */
  readonly #lostOn = new Map<number, PathState>();
  #packets = 0;
  #lastTick: number;
  readonly #fecBelow: number;
  readonly #fecEvery: number;

  constructor(names: string[], now: number, o: SchedulerOptions = {}) {
    this.#fecBelow = o.fecBelow ?? 50;
    this.#fecEvery = o.fecEvery ?? 10;
    this.#lastTick = now;
    for (const name of names) {
      this.#paths.push({
        name,
        up: false,
        window: WINDOW_START,
        inFlight: new Set(),
        current: 0,
        factor: 1,
        score: new SmoothedScore(),
        lastScore: 100,
        rttMs: undefined,
        tick: { sent: 0, bytes: 0, lost: 0, redundant: 0 },
        last: { sent: 0, bytes: 0, lost: 0, ms: 0 },
      });
    }
  }

  /** A path is registered (up) or timed out (down). A down path carries nothing. */
  setUp(name: string, up: boolean): void {
    const path = this.#path(name);
    if (path.up === up) return;
    path.up = up;
    path.window = up ? WINDOW_START : WINDOW_MIN;
    path.inFlight.clear();
  }

  /**
   * Where a data packet goes: `primary` carries it; `copies` repeat it
   * (redundancy-only paths). Undefined when no path is up.
   */
  route(sequence: number, bytes: number): { primary: string; copies: string[] } | undefined {
    const up = this.#paths.filter((p) => p.up);
    if (!up.length) return undefined;
    // A retransmission avoids the path that lost the packet, when there is another.
    const lostOn = this.#lostOn.get(sequence);
    if (lostOn) this.#lostOn.delete(sequence);
    const carriers = up.filter((p) => !this.#fecOnly(p) && (p !== lostOn || up.length === 1));
    // Every path weak: something must carry, so they all do, by score and within their windows as usual
    // (handing everything to the best one alone overran its window, many times what the path carries).
    const eligible = carriers.length ? carriers : up.filter((p) => p !== lostOn || up.length === 1);
    const open = eligible.filter((p) => p.inFlight.size * WINDOW_PER_PACKET < p.window);
    const primary = open.length ? this.#deal(open) : eligible.reduce((a, b) => (b.window / (b.inFlight.size + 1) > a.window / (a.inFlight.size + 1) ? b : a));
    this.#record(primary, sequence, bytes);
    this.#packets += 1;
    const copies = this.#packets % this.#fecEvery === 0 ? up.filter((p) => p !== primary && this.#fecOnly(p)) : [];
    for (const copy of copies) {
      copy.tick.redundant += 1;
      copy.tick.bytes += bytes;
    }
    return { primary: primary.name, copies: copies.map((p) => p.name) };
  }

  /** Control packets (handshakes, ACKs of the stream's other direction): the best open path. */
  best(): string | undefined {
    const up = this.#paths.filter((p) => p.up);
    if (!up.length) return undefined;
    return up.reduce((a, b) => (b.lastScore * (b.window / (b.inFlight.size + 1)) > a.lastScore * (a.window / (a.inFlight.size + 1)) ? b : a)).name;
  }

  /** The receiver got these packets (an SRTLA ACK, on the link that carried them). */
  acked(sequences: number[]): void {
    for (const sequence of sequences) {
      const carrier = this.#carrier.get(sequence);
      if (carrier) carrier.inFlight.delete(sequence);
      if (carrier && carrier.inFlight.size * WINDOW_PER_PACKET > carrier.window) carrier.window = Math.min(WINDOW_MAX, carrier.window + WINDOW_GROW_CONGESTED);
      for (const p of this.#paths) if (p.up) p.window = Math.min(WINDOW_MAX, p.window + 1);
    }
  }

  /** The SRT receiver reported these sequence numbers lost (a NAK): the paths that carried them pay. */
  lost(sequences: number[]): void {
    for (const sequence of sequences) {
      const carrier = this.#carrier.get(sequence);
      if (!carrier) continue;
      carrier.window = Math.max(WINDOW_MIN, carrier.window - WINDOW_CUT);
      carrier.inFlight.delete(sequence);
      carrier.tick.lost += 1;
      // A retransmission is a new send of the same number; count each loss once.
      this.#carrier.delete(sequence);
      this.#lostOn.set(sequence, carrier);
      if (this.#lostOn.size > SENT_LOG) this.#lostOn.delete(this.#lostOn.keys().next().value!);
    }
  }

  /** Everything up to (not including) `sequence` arrived (an SRT ACK). */
  ackedUpTo(sequence: number): void {
    for (const p of this.#paths) {
      for (const s of p.inFlight) if (before(s, sequence)) p.inFlight.delete(s);
    }
  }

  /** Scales a path's share beyond its score (0-1): a helper whose allowance runs out soon gets less. */
  setFactor(name: string, factor: number): void {
    this.#path(name).factor = Math.max(0, Math.min(1, factor));
  }

  /** A keepalive's round trip on `name`. */
  roundTrip(name: string, rttMs: number): void {
    const path = this.#path(name);
    path.rttMs = path.rttMs === undefined ? rttMs : path.rttMs + (rttMs - path.rttMs) / 4;
  }

  /** Closes the tick (about a second): scores every path from what it carried and lost. */
  tick(now: number): PathFigures[] {
    const ms = Math.max(1, now - this.#lastTick);
    this.#lastTick = now;
    for (const p of this.#paths) {
      const { sent, lost } = p.tick;
      p.last = { sent, bytes: p.tick.bytes, lost, ms };
      if (p.up) {
        const lossPct = sent + lost > 0 ? (lost / Math.max(sent, lost)) * 100 : 0;
        const kbps = (p.tick.bytes * 8) / ms;
        p.lastScore = p.score.add(rawScore({ lossPct, rttMs: p.rttMs, jitterMs: 0, kbps })).score;
      }
      p.tick = { sent: 0, bytes: 0, lost: 0, redundant: 0 };
    }
    return this.figures();
  }

  figures(): PathFigures[] {
    const total = this.#paths.reduce((sum, p) => sum + p.last.sent, 0);
    return this.#paths.map((p) => ({
      name: p.name,
      score: p.up ? p.lastScore : 0,
      sharePct: total ? Math.round((p.last.sent / total) * 1000) / 10 : 0,
      lossPct: p.last.sent ? Math.round((p.last.lost / Math.max(p.last.sent, p.last.lost)) * 1000) / 10 : 0,
      rttMs: p.rttMs === undefined ? undefined : Math.round(p.rttMs),
      kbps: Math.round((p.last.bytes * 8) / Math.max(1, p.last.ms)),
      fecOnly: p.up && this.#fecOnly(p),
      window: p.window,
      inFlight: p.inFlight.size,
    }));
  }

  #fecOnly(p: PathState): boolean {
    return p.lastScore < this.#fecBelow;
  }

  /** Smooth weighted round robin over the open paths, weights = scores. */
  #deal(open: PathState[]): PathState {
    const items = open.map((p) => ({ weight: Math.max(1, p.lastScore * p.factor), current: p.current }));
    const pick = dealOne(items);
    open.forEach((p, i) => (p.current = items[i].current));
    return open[pick];
  }

  #record(path: PathState, sequence: number, bytes: number): void {
    path.tick.sent += 1;
    path.tick.bytes += bytes;
    path.inFlight.add(sequence);
    if (!this.#carrier.has(sequence)) this.#carrierOrder.push(sequence);
    this.#carrier.set(sequence, path);
    if (this.#carrierOrder.length > SENT_LOG) {
      const old = this.#carrierOrder.shift()!;
      const carrier = this.#carrier.get(old);
      carrier?.inFlight.delete(old);
      this.#carrier.delete(old);
    }
  }

  #path(name: string): PathState {
    const path = this.#paths.find((p) => p.name === name);
    if (!path) throw new Error(`no path ${name}`);
    return path;
  }
}

/**
 * Smooth weighted round robin (as nginx balances upstreams): each turn every
 * item gains its weight, the richest is picked and pays the total. Over any
 * run of turns each item's picks follow its weight share, evenly spread
 * (weights 2:1:1:2 → a, d, a, b, c, d, …: shares 2/6, 1/6, 1/6, 2/6).
 */
export function dealOne(items: { weight: number; current: number }[]): number {
  let total = 0;
  let pick = 0;
  items.forEach((item, i) => {
    item.current += item.weight;
    total += item.weight;
    if (item.current > items[pick].current) pick = i;
  });
  items[pick].current -= total;
  return pick;
}

/** SRT's 31-bit sequence order: a comes before b (wrapping). */
function before(a: number, b: number): boolean {
  const d = (b - a) & 0x7fffffff;
  return d !== 0 && d < 0x40000000;
}
