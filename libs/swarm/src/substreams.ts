/**
 * Seed 002's sub-streams. The program is cut into blocks numbered from 0 in
 * time order and dealt into `s` sub-streams: with groups of `a` consecutive
 * blocks, sub-stream b (1 ≤ b ≤ s) holds a·s·n + [a(b−1) … a(b−1)+a−1] for
 * n ≥ 0; with a = 1 that is the seed's first form, s·n + b − 1. Pure.
 */
export interface SubstreamLayout {
  /** Sub-streams, ≥ 1. */
  s: number;
  /** Consecutive blocks per group, ≥ 1. */
  a: number;
}

/** The sub-stream (1-based) that holds block `n`. */
export function substreamOf(n: number, { s, a }: SubstreamLayout): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`block number ${n} is not a non-negative integer`);
  return (Math.floor(n / a) % s) + 1;
}

/** The blocks of sub-stream `b` among `from … to` (inclusive), in order. */
export function blocksOf(b: number, layout: SubstreamLayout, from: number, to: number): number[] {
  const { s, a } = layout;
  if (b < 1 || b > s) throw new RangeError(`sub-stream ${b} is outside 1…${s}`);
  const out: number[] = [];
  if (to < from) return out;
  // The first group of sub-stream b at or before `from`: group index g has blocks a·g … a·g + a − 1, and g ≡ b − 1 (mod s).
  let g = Math.floor(Math.max(0, from) / a);
  g -= (((g - (b - 1)) % s) + s) % s;
  for (; a * g <= to; g += s) {
    for (let k = 0; k < a; k += 1) {
      const n = a * g + k;
      if (n >= from && n <= to && n >= 0) out.push(n);
    }
  }
  return out;
}

/**
 * The sub-streams a swarm uses: what the channel asks for, never more than
 * the viewers who could serve them, nor more than a viewer may have peers
 * (each viewer takes every other sub-stream from one peer).
 */
export function effectiveSubstreams(configured: number, viewers: number, maxPeersPerViewer: number): number {
  return Math.max(1, Math.min(configured, viewers, maxPeersPerViewer + 1));
}
