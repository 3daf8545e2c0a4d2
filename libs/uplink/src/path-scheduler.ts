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
 * - A NAK is charged to the path that carried the packet, and taken back when
 *   that path's SRTLA ACK later says the packet did arrive (it was only
 *   overtaken by one on a faster path).
 * - A redundancy-only path carries no packet of its own, so no NAK measures
 *   it: its loss is measured from its copies instead (copies the receiver's
 *   SRTLA ACKs on that path confirm, against copies sent), and it stays
 *   redundancy-only while that loss keeps its score low.
 * - Capacity: a path whose round trip (keepalives, and SRTLA ACKs timed
 *   from the send of the packet each completes) climbs above its quiet one
 *   while it carries a share (its queue is filling: more than it can carry) gets a
 *   rate limit, cut multiplicatively from what it carried each tick the round
 *   trip stays up, and raised by a small step (8 %) each tick it is back at
 *   its quiet round trip (headroom), until the limit no longer binds; the share a limit
 *   takes off a path goes to the others.
 * - Available bandwidth: the sender times a train of data-sized probes sent
 *   back to back on each path every few seconds (the receiver echoes them as
 *   keepalives); the spacing their echoes come back with is the path's
 *   bottleneck (`trainCapacityKbps`), the median of its last few trains its
 *   capacity. A path's weight is its score × its capacity against the
 *   largest, so shares follow the paths' capacities (2400 and 1200 kbit/s
 *   → 2/3 and 1/3) while every path scores alike; a path whose capacity is
 *   not measured yet counts as the median of those that are. While a train
 *   drains, its path carries no data (which would queue behind it) and the
 *   round trips its ACKs give are not taken as a filling queue.
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
  /** The rate limit its capacity sets (kbit/s), when one binds. */
  limitKbps?: number;
  /** Its capacity as its probe trains measured it (kbit/s), once one did. */
  capacityKbps?: number;
}

const WINDOW_MIN = 1000;
const WINDOW_START = 20_000;
const WINDOW_MAX = 60_000;
const WINDOW_PER_PACKET = 1000;
const WINDOW_CUT = 100;
const WINDOW_GROW_CONGESTED = 29;
/** How many sent sequence numbers are remembered (to tell which path lost one). */
const SENT_LOG = 16_384;
/** Copies remembered per redundancy-only path, and how many ticks one may wait for its ACK before it counts as lost. */
const COPY_LOG = 4096;
const COPY_WAIT_TICKS = 3;
/** Copies a loss figure needs (over its last few ticks) before it counts. */
const COPY_SAMPLES = 8;
/** A round trip this far above the path's quiet one (ms, or this fraction of it, the larger) says its queue fills. */
const RTT_RISE_MS = 40;
const RTT_RISE_FRACTION = 0.5;
/** ACK round trips a tick needs before their mean counts. */
const ACK_RTT_SAMPLES = 3;
/** Rate limit: cut to this fraction of what the path carried; raised by this fraction of itself per quiet tick. */
const LIMIT_CUT = 0.7;
const LIMIT_GROW = 0.08;
/** Below this (kbit/s) a limit is not cut further. */
const LIMIT_MIN_KBPS = 64;
/** Capacity: trains a path's figure is the median of; what a train's drain is reckoned at before any is measured. */
const CAPACITY_TRAINS = 5;
const CAPACITY_ASSUMED_KBPS = 1000;
/** A train's drain, ms: at least, at most (a path whose probes stop coming back must still carry again). */
const DRAIN_MIN_MS = 10;
const DRAIN_MAX_MS = 250;

/**
 * A path's bottleneck from the echoes of one train of `bytes`-sized probes
 * sent back to back: (index, arrival ms) of those that came back. The first
 * `skip` are left out (a token bucket lets a few through at line rate before
 * the path's rate holds); the rest are `bytes` per index apart at the
 * bottleneck. kbit/s, or undefined when too few came back to tell.
 */
export function trainCapacityKbps(echoes: { index: number; atMs: number }[], bytes: number, skip: number): number | undefined {
  const usable = echoes.filter((e) => e.index >= skip).sort((a, b) => a.index - b.index);
  if (usable.length < 3) return undefined;
  const first = usable[0];
  const last = usable[usable.length - 1];
  const ms = last.atMs - first.atMs;
  // Under a millisecond for the lot: the bottleneck is beyond what this clock tells apart.
  if (ms < 1) return undefined;
  return ((last.index - first.index) * bytes * 8) / ms;
}

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
  /** The lowest round trip seen lately (the path's quiet one), and the last sample. */
  quietRttMs: number | undefined;
  lastRttMs: number | undefined;
  /** The same from its SRTLA ACKs (a packet's send to the ACK it completed: many a second, queueing included). */
  quietAckRttMs: number | undefined;
  /** The rate limit (kbit/s) its capacity sets, or undefined while none binds. */
  limitKbps: number | undefined;
  /** Its measured capacity (kbit/s: the median of its last trains), and those trains' figures. */
  capacityKbps: number | undefined;
  capacitySamples: number[];
  /** A probe train is draining until then (the route's clock): no data; its ACKs' round trips are not queue signals until rttBlindUntil. */
  drainUntil: number;
  rttBlindUntil: number;
  /** Its weight in the deal: score × factor, less what a rate limit takes off. */
  weight: number;
  /** Copies it carried and not yet acknowledged: sequence → the tick it was sent in. */
  copies: Map<number, number>;
  /** Copies acknowledged and lost over its last ticks (the loss figure of a redundancy-only path). */
  copyLog: { acked: number; lost: number }[];
  copyLossPct: number | undefined;
  tick: { sent: number; bytes: number; lost: number; redundant: number; copiesAcked: number; copiesLost: number; ackRtts: number; ackRttSum: number };
  last: { sent: number; bytes: number; lost: number; ms: number };
}

export class PathScheduler {
  readonly #paths: PathState[] = [];
  /** Sequence number → the path that carried it (recent ones). */
  readonly #carrier = new Map<number, PathState>();
  readonly #carrierOrder: number[] = [];
  /** Sequence number → the path that lost it, until it is sent again. */
  readonly #lostOn = new Map<number, PathState>();
  /** Sequence number → the path a NAK charged, until that path's ACK shows it arrived after all. */
  readonly #charged = new Map<number, PathState>();
  /** Sequence number → when it was last sent (when the caller gives the time), for the ACKs' round trips. */
  readonly #sentAt = new Map<number, number>();
  #packets = 0;
  #ticks = 0;
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
        quietRttMs: undefined,
        lastRttMs: undefined,
        quietAckRttMs: undefined,
        limitKbps: undefined,
        capacityKbps: undefined,
        capacitySamples: [],
        drainUntil: -Infinity,
        rttBlindUntil: -Infinity,
        weight: 100,
        copies: new Map(),
        copyLog: [],
        copyLossPct: undefined,
        tick: emptyTick(),
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
    path.copies.clear();
    // Back up, it may be another route: its capacity and quiet round trip are learnt again.
    path.limitKbps = undefined;
    path.capacityKbps = undefined;
    path.capacitySamples = [];
    path.quietRttMs = undefined;
    path.quietAckRttMs = undefined;
    this.#weigh();
  }

  /**
   * Where a data packet goes: `primary` carries it; `copies` repeat it
   * (redundancy-only paths). Undefined when no path is up.
   */
  route(sequence: number, bytes: number, now?: number): { primary: string; copies: string[] } | undefined {
    const up = this.#paths.filter((p) => p.up);
    if (!up.length) return undefined;
    // A retransmission avoids the path that lost the packet, when there is another.
    const lostOn = this.#lostOn.get(sequence);
    if (lostOn) this.#lostOn.delete(sequence);
    const carriers = up.filter((p) => !this.#fecOnly(p) && (p !== lostOn || up.length === 1));
    // Every path weak: something must carry, so they all do, by score and within their windows as usual
    // (handing everything to the best one alone overran its window, many times what the path carries).
    const eligible = carriers.length ? carriers : up.filter((p) => p !== lostOn || up.length === 1);
    const open = eligible.filter((p) => p.inFlight.size * WINDOW_PER_PACKET < p.window && !(now !== undefined && now < p.drainUntil));
    const primary = open.length ? this.#deal(open) : eligible.reduce((a, b) => (b.window / (b.inFlight.size + 1) > a.window / (a.inFlight.size + 1) ? b : a));
    this.#record(primary, sequence, bytes);
    if (now !== undefined) {
      this.#sentAt.delete(sequence);
      this.#sentAt.set(sequence, now);
      if (this.#sentAt.size > SENT_LOG) this.#sentAt.delete(this.#sentAt.keys().next().value!);
    }
    this.#packets += 1;
    const copies = this.#packets % this.#fecEvery === 0 ? up.filter((p) => p !== primary && this.#fecOnly(p)) : [];
    for (const copy of copies) {
      copy.tick.redundant += 1;
      copy.tick.bytes += bytes;
      copy.copies.delete(sequence);
      copy.copies.set(sequence, this.#ticks);
      if (copy.copies.size > COPY_LOG) copy.copies.delete(copy.copies.keys().next().value!);
    }
    return { primary: primary.name, copies: copies.map((p) => p.name) };
  }

  /** Control packets (handshakes, ACKs of the stream's other direction): the best open path. */
  best(): string | undefined {
    const up = this.#paths.filter((p) => p.up);
    if (!up.length) return undefined;
    return up.reduce((a, b) => (b.lastScore * (b.window / (b.inFlight.size + 1)) > a.lastScore * (a.window / (a.inFlight.size + 1)) ? b : a)).name;
  }

  /**
   * The receiver got these packets (an SRTLA ACK: the sequence numbers it got
   * on one link, in the order they came), on path `on` when known. Returns the
   * paths whose NAK charges it took back (packets NAKed as lost that arrived).
   * With `now` (the clock `route` was given), the last packet it names times
   * the path's round trip, queueing included.
   */
  acked(sequences: number[], on?: string, now?: number): string[] {
    const link = on === undefined ? undefined : this.#path(on);
    const last = sequences.at(-1);
    const sentAt = last === undefined ? undefined : this.#sentAt.get(last);
    if (link && now !== undefined && sentAt !== undefined && this.#carrier.get(last!) === link && now >= link.rttBlindUntil) {
      const rtt = Math.max(0, now - sentAt);
      link.tick.ackRtts += 1;
      link.tick.ackRttSum += rtt;
      link.quietAckRttMs = link.quietAckRttMs === undefined || rtt < link.quietAckRttMs ? rtt : link.quietAckRttMs + (rtt - link.quietAckRttMs) / 256;
    }
    const undone: string[] = [];
    const swept = new Set<PathState>();
    for (const sequence of sequences) {
      // A copy arrived (on its link; with no link named, wherever one was sent).
      const copiedOn = link ? (link.copies.has(sequence) ? [link] : []) : this.#paths.filter((p) => p.copies.has(sequence));
      for (const p of copiedOn) {
        // Copies sent on this link before the first one an ACK names did not arrive (or their ACK was lost).
        if (!swept.has(p)) {
          swept.add(p);
          for (const [s] of p.copies) {
            if (s === sequence) break;
            p.copies.delete(s);
            p.tick.copiesLost += 1;
          }
        }
        p.copies.delete(sequence);
        p.tick.copiesAcked += 1;
      }
      if (link && copiedOn.length) continue;
      const carrier = this.#carrier.get(sequence);
      if (carrier && (!link || carrier === link)) carrier.inFlight.delete(sequence);
      if (carrier && carrier.inFlight.size * WINDOW_PER_PACKET > carrier.window) carrier.window = Math.min(WINDOW_MAX, carrier.window + WINDOW_GROW_CONGESTED);
      for (const p of this.#paths) if (p.up) p.window = Math.min(WINDOW_MAX, p.window + 1);
      const charged = this.#charged.get(sequence);
      if (link && charged === link) {
        // NAKed, yet it came over the path that carried it: overtaken, not lost.
        this.#charged.delete(sequence);
        if (this.#lostOn.get(sequence) === link) this.#lostOn.delete(sequence);
        link.tick.lost = Math.max(0, link.tick.lost - 1);
        link.window = Math.min(WINDOW_MAX, link.window + WINDOW_CUT);
        undone.push(link.name);
      }
    }
    return undone;
  }

  /** The SRT receiver reported these sequence numbers lost (a NAK): the paths that carried them pay. Returns the path charged for each. */
  lost(sequences: number[]): string[] {
    const charged: string[] = [];
    for (const sequence of sequences) {
      const carrier = this.#carrier.get(sequence);
      if (!carrier) continue;
      carrier.window = Math.max(WINDOW_MIN, carrier.window - WINDOW_CUT);
      carrier.inFlight.delete(sequence);
      carrier.tick.lost += 1;
      charged.push(carrier.name);
      // A retransmission is a new send of the same number; count each loss once.
      this.#carrier.delete(sequence);
      this.#lostOn.set(sequence, carrier);
      if (this.#lostOn.size > SENT_LOG) this.#lostOn.delete(this.#lostOn.keys().next().value!);
      this.#charged.set(sequence, carrier);
      if (this.#charged.size > SENT_LOG) this.#charged.delete(this.#charged.keys().next().value!);
    }
    return charged;
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
    this.#weigh();
  }

  /**
   * A probe train of `bits` went out on `name` at `now` (the route's clock):
   * the path carries no data until it has drained at the path's capacity.
   * Returns the drain, ms.
   */
  probing(name: string, now: number, bits: number): number {
    const path = this.#path(name);
    const drainMs = Math.min(DRAIN_MAX_MS, Math.max(DRAIN_MIN_MS, bits / (path.capacityKbps ?? CAPACITY_ASSUMED_KBPS)));
    path.drainUntil = now + drainMs;
    // The echoes come back the same way: ACKs behind them are late by up to another drain.
    path.rttBlindUntil = now + 2 * drainMs + 50;
    return drainMs;
  }

  /** One train's figure of `name`'s capacity (kbit/s, trainCapacityKbps). */
  capacity(name: string, kbps: number): void {
    const path = this.#path(name);
    if (!Number.isFinite(kbps) || kbps <= 0) return;
    path.capacitySamples.push(kbps);
    if (path.capacitySamples.length > CAPACITY_TRAINS) path.capacitySamples.shift();
    const sorted = [...path.capacitySamples].sort((a, b) => a - b);
    path.capacityKbps = sorted[Math.floor(sorted.length / 2)];
    this.#weigh();
  }

  /** A keepalive's round trip on `name`. */
  roundTrip(name: string, rttMs: number): void {
    const path = this.#path(name);
    path.rttMs = path.rttMs === undefined ? rttMs : path.rttMs + (rttMs - path.rttMs) / 4;
    path.lastRttMs = rttMs;
    // The quiet round trip: the lowest seen, drifting up slowly (a route that changed for good).
    path.quietRttMs = path.quietRttMs === undefined || rttMs < path.quietRttMs ? rttMs : path.quietRttMs + (rttMs - path.quietRttMs) / 64;
  }

  /** Closes the tick (about a second): scores every path from what it carried and lost. */
  tick(now: number): PathFigures[] {
    const ms = Math.max(1, now - this.#lastTick);
    this.#lastTick = now;
    this.#ticks += 1;
    for (const p of this.#paths) {
      const { sent, lost } = p.tick;
      p.last = { sent, bytes: p.tick.bytes, lost, ms };
      this.#measureCopies(p);
      if (p.up) {
        const nakLossPct = sent + lost > 0 ? (lost / Math.max(sent, lost)) * 100 : 0;
        // A path carrying only copies is measured by them (no NAK ever names it).
        const lossPct = Math.max(nakLossPct, p.copyLossPct ?? 0);
        const kbps = (p.tick.bytes * 8) / ms;
        p.lastScore = p.score.add(rawScore({ lossPct, rttMs: p.rttMs, jitterMs: 0, kbps })).score;
        this.#limit(p, (sent * (p.tick.bytes / Math.max(1, sent + p.tick.redundant)) * 8) / ms);
      }
      p.tick = emptyTick();
    }
    this.#weigh();
    return this.figures();
  }

  figures(): PathFigures[] {
    const total = this.#paths.reduce((sum, p) => sum + p.last.sent, 0);
    return this.#paths.map((p) => ({
      name: p.name,
      score: p.up ? p.lastScore : 0,
      sharePct: total ? Math.round((p.last.sent / total) * 1000) / 10 : 0,
      lossPct: Math.round(Math.max(p.last.sent ? (p.last.lost / Math.max(p.last.sent, p.last.lost)) * 100 : 0, p.up ? (p.copyLossPct ?? 0) : 0) * 10) / 10,
      rttMs: p.rttMs === undefined ? undefined : Math.round(p.rttMs),
      kbps: Math.round((p.last.bytes * 8) / Math.max(1, p.last.ms)),
      fecOnly: p.up && this.#fecOnly(p),
      window: p.window,
      inFlight: p.inFlight.size,
      ...(p.limitKbps !== undefined ? { limitKbps: Math.round(p.limitKbps) } : {}),
      ...(p.capacityKbps !== undefined ? { capacityKbps: Math.round(p.capacityKbps) } : {}),
    }));
  }

  #fecOnly(p: PathState): boolean {
    return p.lastScore < this.#fecBelow;
  }

  /** The copies' loss over the last few ticks: copies unacknowledged after COPY_WAIT_TICKS count as lost. */
  #measureCopies(p: PathState): void {
    for (const [s, at] of p.copies) {
      if (this.#ticks - at <= COPY_WAIT_TICKS) break;
      p.copies.delete(s);
      p.tick.copiesLost += 1;
    }
    p.copyLog.push({ acked: p.tick.copiesAcked, lost: p.tick.copiesLost });
    if (p.copyLog.length > COPY_WAIT_TICKS) p.copyLog.shift();
    const acked = p.copyLog.reduce((n, x) => n + x.acked, 0);
    const lost = p.copyLog.reduce((n, x) => n + x.lost, 0);
    // Too few to tell: the last figure stands; a path carrying data again (no copies) is measured by its NAKs.
    if (acked + lost >= COPY_SAMPLES) p.copyLossPct = (lost / (acked + lost)) * 100;
    else if (!this.#fecOnly(p)) p.copyLossPct = undefined;
  }

  /** The path's rate limit from its round trip: cut while its queue fills under a share, raised while it is quiet, gone once it no longer binds. */
  #limit(p: PathState, carriedKbps: number): void {
    const above = (rtt: number, quiet: number) => rtt > quiet + Math.max(RTT_RISE_MS, quiet * RTT_RISE_FRACTION);
    // The keepalive's round trip (once a second), and the mean of this tick's ACK round trips (when there were a few).
    const keepalive = p.quietRttMs !== undefined && p.lastRttMs !== undefined ? above(p.lastRttMs, p.quietRttMs) : undefined;
    const acks = p.tick.ackRtts >= ACK_RTT_SAMPLES && p.quietAckRttMs !== undefined ? above(p.tick.ackRttSum / p.tick.ackRtts, p.quietAckRttMs) : undefined;
    // Each round trip counts once (a path that stopped answering keeps its limit as it is).
    p.lastRttMs = undefined;
    if (keepalive === undefined && acks === undefined) return;
    const rising = !!keepalive || !!acks;
    if (rising && carriedKbps > 0) {
      p.limitKbps = Math.max(LIMIT_MIN_KBPS, Math.min(p.limitKbps ?? Infinity, carriedKbps) * LIMIT_CUT);
    } else if (!rising && p.limitKbps !== undefined) {
      p.limitKbps *= 1 + LIMIT_GROW;
      // Well above what the path is asked to carry: the limit no longer binds.
      if (p.limitKbps > 2 * Math.max(carriedKbps, LIMIT_MIN_KBPS)) p.limitKbps = undefined;
    }
  }

  /**
   * Each path's weight: score × factor × its capacity against the largest
   * carrier's (unmeasured: the median of the measured); a path whose rate limit is below the
   * share that gives it keeps only its limit, and the rest is dealt over the
   * others by their weights (water-filling over the last tick's rate).
   */
  #weigh(): void {
    const carriers = this.#paths.filter((p) => p.up && !this.#fecOnly(p));
    const measured = carriers.map((p) => p.capacityKbps).filter((c): c is number => c !== undefined).sort((a, b) => a - b);
    const largest = measured.at(-1);
    const unmeasured = measured.length ? measured[Math.floor(measured.length / 2)] : undefined;
    for (const p of this.#paths) {
      const capacity = p.capacityKbps ?? unmeasured;
      const relative = largest && capacity ? Math.min(1, capacity / largest) : 1;
      p.weight = Math.max(1, p.lastScore * p.factor * relative);
    }
    const kbps = (p: PathState) => (p.last.bytes * 8) / p.last.ms;
    const total = carriers.reduce((sum, p) => sum + kbps(p), 0);
    if (total <= 0 || !carriers.some((p) => p.limitKbps !== undefined)) return;
    // Water-filling: a path whose share of the total is above its limit keeps its limit; the rest is shared again by weight.
    const capped = new Map<PathState, number>();
    let free = carriers;
    let rest = total;
    for (;;) {
      const sum = free.reduce((n, p) => n + p.weight, 0);
      const over = free.filter((p) => p.limitKbps !== undefined && (rest * p.weight) / sum > p.limitKbps);
      if (!over.length) break;
      for (const p of over) {
        capped.set(p, p.limitKbps!);
        rest -= p.limitKbps!;
      }
      free = free.filter((p) => !capped.has(p));
      if (!free.length || rest <= 0) break;
    }
    if (!capped.size) return;
    if (!free.length || rest <= 0) {
      // Every carrier at its limit: share by the limits (the stream is more than they carry).
      for (const [p, limit] of capped) p.weight = Math.max(1, limit);
      return;
    }
    // The free paths keep their weights; a capped one's weight gives it its limit's share of the total.
    const freeSum = free.reduce((n, p) => n + p.weight, 0);
    for (const [p, limit] of capped) p.weight = Math.max(1, (limit * freeSum) / rest);
  }

  /** Smooth weighted round robin over the open paths, weights = scores (less what a rate limit takes off). */
  #deal(open: PathState[]): PathState {
    const items = open.map((p) => ({ weight: p.weight, current: p.current }));
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

function emptyTick(): PathState['tick'] {
  return { sent: 0, bytes: 0, lost: 0, redundant: 0, copiesAcked: 0, copiesLost: 0, ackRtts: 0, ackRttSum: 0 };
}

/** SRT's 31-bit sequence order: a comes before b (wrapping). */
function before(a: number, b: number): boolean {
  const d = (b - a) & 0x7fffffff;
  return d !== 0 && d < 0x40000000;
}
