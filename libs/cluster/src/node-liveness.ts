/**
 * Node liveness in a cluster (pure: no I/O). Each node heartbeats its load to
 * Redis; the time of each heartbeat is Redis's own clock (TIME), so nodes whose
 * clocks disagree still agree on who is gone.
 */

/** What a node says about itself in each heartbeat. */
export interface NodeReport {
  id: string;
  /** Where clients and other nodes reach its HTTP port. */
  address: string;
  /** Cores it offers to media work. */
  cpuBudget: number;
  /** Cores its process tree (gateway, workers, ffmpeg, origin) used over the last heartbeat interval. */
  cpuUsed: number;
  /** Cores the mixes running here were admitted for (mix-cost.ts). */
  cpuReserved: number;
  conferences: number;
  mixTasks: number;
  /** Set by a node that stopped cleanly: it is gone at once, not after the timeout. */
  stopped?: boolean;
}

export type NodeState = 'up' | 'gone';

export interface NodeView extends Omit<NodeReport, 'stopped'> {
  state: NodeState;
  /** Its last heartbeat (Redis clock), ISO 8601. */
  lastSeen: string;
  /** Milliseconds since that heartbeat. */
  silentForMs: number;
}

/** A node unheard of this long is gone. */
export const GONE_AFTER_MS = 5000;
/** A gone node is forgotten (dropped from the registry) this long after its last heartbeat. */
export const FORGET_AFTER_MS = 60 * 60 * 1000;

export function nodeState(lastSeenMs: number, nowMs: number, stopped = false, goneAfterMs = GONE_AFTER_MS): NodeState {
  return !stopped && nowMs - lastSeenMs <= goneAfterMs ? 'up' : 'gone';
}

/**
 * The registry as an operator sees it, from the stored reports and heartbeat
 * times (both keyed by node id). Unreadable reports are skipped; the list is
 * sorted by id so that it reads the same on every node.
 */
export function viewNodes(reports: Record<string, string>, seen: Record<string, string>, nowMs: number, goneAfterMs = GONE_AFTER_MS): NodeView[] {
  const views: NodeView[] = [];
  for (const [id, raw] of Object.entries(reports)) {
    const report = parseReport(raw);
    const lastSeen = Number(seen[id]);
    if (!report || !Number.isFinite(lastSeen)) continue;
    views.push({
      id,
      address: report.address,
      state: nodeState(lastSeen, nowMs, report.stopped, goneAfterMs),
      cpuBudget: report.cpuBudget,
      cpuUsed: report.cpuUsed,
      cpuReserved: report.cpuReserved ?? 0,
      conferences: report.conferences,
      mixTasks: report.mixTasks,
      lastSeen: new Date(lastSeen).toISOString(),
      silentForMs: Math.max(0, nowMs - lastSeen),
    });
  }
  return views.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Ids of nodes whose last heartbeat is older than FORGET_AFTER_MS. */
export function forgottenNodes(seen: Record<string, string>, nowMs: number, forgetAfterMs = FORGET_AFTER_MS): string[] {
  return Object.entries(seen)
    .filter(([, at]) => !(nowMs - Number(at) <= forgetAfterMs))
    .map(([id]) => id);
}

function parseReport(raw: string): NodeReport | undefined {
  try {
    const r = JSON.parse(raw) as NodeReport;
    return typeof r?.address === 'string' && typeof r.cpuBudget === 'number' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Redis TIME's reply ([seconds, microseconds] as strings) in milliseconds. */
export function redisTimeMs([seconds, micros]: [string, string]): number {
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}
