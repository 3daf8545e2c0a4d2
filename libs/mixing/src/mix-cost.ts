/**
 * What a mix costs a node, in cores, for admission (pure: no I/O). A mix is
 * admitted only where the node's CPU budget (NODE_CPU_BUDGET, default its
 * cores × 0.8) still holds its cost on top of the mixes already running; else
 * 503 MIX_CAPACITY, as LiveKit's egress admits by CPU cost.
 *
 * The model is linear in the output's pixel rate and in the participants
 * decoded: cost = BASE + PER_MPIXEL_PER_SECOND × width × height × fps / 1e6 +
 * PER_PARTICIPANT × participants. Calibrated with `npm run bench -- mix`
 * (2026-12-02, 2 cores): one 2-party 640x360@15 mix uses 0.237 cores of
 * process-tree CPU and one 4-party 1280x720@30 mix 0.657, but only 4
 * 2-party mixes keep ≥ 0.98× distinct frames at a reader on 2 cores, because
 * the gateway's compositor shares one event loop; so the model charges what
 * the machine sustains (1.6 cores of budget / 4 mixes = 0.4 per 2-party
 * mix), not what `top` shows, and scales the 4-party mix by the same factor
 * (≈ 1.1). Re-calibrate when the mixer changes (issue 19).
 */
export const MIX_COST = {
  base: 0.23,
  perMegapixelPerSecond: 0.0256,
  perParticipant: 0.04,
} as const;

export interface MixCostInput {
  width: number;
  height: number;
  fps: number;
  /** Participants the mix decodes (at least 2 are charged: a mix is made to show more than one). */
  participants: number;
}

export function mixCost({ width, height, fps, participants }: MixCostInput): number {
  const cost = MIX_COST.base + (MIX_COST.perMegapixelPerSecond * width * height * fps) / 1e6 + MIX_COST.perParticipant * Math.max(2, participants);
  return Math.round(cost * 1000) / 1000;
}

/** Whether a mix of `cost` fits a budget of which `reserved` is taken. */
export function admits(budget: number, reserved: number, cost: number): boolean {
  return reserved + cost <= budget + 1e-9;
}
