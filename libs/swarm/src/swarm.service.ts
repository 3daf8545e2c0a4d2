import { randomBytes } from 'node:crypto';
import { ForbiddenError, NotFoundError, TypedEmitter, ValidationError } from '@gw/common';
import type { ResolvedConfig } from '@gw/config';
import type { ChannelP2pSettings } from '@gw/persistence';
import type { PeerReport, PlanMessage } from './swarm-messages';
import { peerPlanChanged, PeerPlan, planSwarm, SwarmPlan } from './swarm-plan';

/** The P2P_* settings (libs/config). */
export type SwarmConfig = ResolvedConfig['p2p'];

interface Viewer {
  peerId: string;
  userId: string;
  joinedAt: number;
  report: PeerReport;
}

interface Swarm {
  channelId: string;
  viewers: Map<string, Viewer>;
  plan?: SwarmPlan;
  /** What viewers who left had reported, so a channel's totals never go backwards. */
  gone: PeerReport;
}

interface SwarmEvents extends Record<string, unknown[]> {
  /** Send `event` to the viewer `peerId` (the socket layer owns the sockets). */
  send: [peerId: string, event: string, payload: object];
}

const zeroReport = (): PeerReport => ({ bytesFromPeers: 0, bytesFromOrigin: 0, blocksFromPeers: 0, blocksFromOrigin: 0, rejectedBlocks: 0, bytesToPeers: 0 });
const REPORT_KEYS = Object.keys(zeroReport()) as (keyof PeerReport)[];

export class NotInSwarmError extends ForbiddenError {
  constructor(detail: string) {
    super(detail, 'P2P_NOT_IN_SWARM');
  }
}

/**
 * The tracker (seed 002): per channel, the viewers who share its program,
 * which sub-stream each takes from the origin and which peer gives it each
 * of the others (swarm-plan.ts). It re-plans when a viewer joins or leaves
 * and tells each viewer whose part changed; it passes their WebRTC signalling
 * between them, only within one swarm; and it sums where their blocks came from.
 * In memory on the node the viewers' sockets reached.
 */
export class SwarmService extends TypedEmitter<SwarmEvents> {
  readonly #swarms = new Map<string, Swarm>();
  /** peerId → channel. */
  readonly #peers = new Map<string, string>();

  constructor(
    private readonly config: SwarmConfig,
    /** The channel's own settings, when it has any (ChannelService.p2pSettings; throws for an unknown channel). */
    private readonly channelSettings: (channelId: string) => ChannelP2pSettings | undefined,
  ) {
    super();
  }

  settings(channelId: string): ChannelP2pSettings {
    return this.channelSettings(channelId) ?? { enabled: true, substreams: this.config.substreams, group: this.config.group };
  }

  /** Re-plans after the channel's settings changed. */
  settingsChanged(channelId: string): void {
    const swarm = this.#swarms.get(channelId);
    if (swarm) this.#replan(swarm);
  }

  /** What a viewer needs to take part, beside its plan: limits and timings. */
  get clientConfig() {
    const { maxPeersPerViewer, uploadKbps, peerWaitMs, urgentMs } = this.config;
    return { maxPeersPerViewer, uploadKbps, peerWaitMs, urgentMs };
  }

  join(channelId: string, userId: string): PlanMessage {
    const settings = this.settings(channelId);
    if (!settings.enabled) throw new ForbiddenError(`channel ${channelId} does not share its stream between viewers`, 'P2P_DISABLED');
    let swarm = this.#swarms.get(channelId);
    if (!swarm) {
      swarm = { channelId, viewers: new Map(), gone: zeroReport() };
      this.#swarms.set(channelId, swarm);
    }
    const peerId = `pe_${randomBytes(9).toString('base64url')}`;
    swarm.viewers.set(peerId, { peerId, userId, joinedAt: Date.now(), report: zeroReport() });
    this.#peers.set(peerId, channelId);
    this.#replan(swarm, peerId);
    return this.#message(swarm, peerId);
  }

  /** A viewer left (or its socket did). Idempotent. Those who lost a provider get another. */
  leave(peerId: string): void {
    const channelId = this.#peers.get(peerId);
    if (channelId === undefined) return;
    this.#peers.delete(peerId);
    const swarm = this.#swarms.get(channelId);
    const viewer = swarm?.viewers.get(peerId);
    if (!swarm || !viewer) return;
    for (const k of REPORT_KEYS) swarm.gone[k] += viewer.report[k];
    swarm.viewers.delete(peerId);
    this.#replan(swarm);
  }

  /** Passes WebRTC signalling from one viewer to another of the same swarm. */
  signal(fromPeerId: string, toPeerId: string, payload: { description?: unknown; candidate?: unknown }): void {
    const channelId = this.#peers.get(fromPeerId);
    if (channelId === undefined) throw new NotInSwarmError(`${fromPeerId} has not joined a swarm`);
    if (this.#peers.get(toPeerId) !== channelId) throw new NotInSwarmError(`${toPeerId} is not in this swarm`);
    if (fromPeerId === toPeerId) throw new ValidationError('a viewer cannot signal itself', 'P2P_SELF');
    this.emit('send', toPeerId, 'p2p:swarm-signal', { channelId, fromPeerId, ...payload });
  }

  /** A viewer's totals; they only grow (a smaller one is a client bug, and ignored). */
  report(peerId: string, report: PeerReport): void {
    const swarm = this.#swarms.get(this.#peers.get(peerId) ?? '');
    const viewer = swarm?.viewers.get(peerId);
    if (!viewer) throw new NotInSwarmError(`${peerId} has not joined a swarm`);
    for (const k of REPORT_KEYS) viewer.report[k] = Math.max(viewer.report[k], report[k]);
  }

  /** The channel the viewer `peerId` is in, if any. */
  channelOf(peerId: string): string | undefined {
    return this.#peers.get(peerId);
  }

  /** The sub-streams a channel's blocks are dealt into now. */
  layout(channelId: string): { s: number; a: number } {
    const swarm = this.#swarms.get(channelId);
    if (swarm?.plan && swarm.viewers.size) return { s: swarm.plan.s, a: swarm.plan.a };
    const settings = this.settings(channelId);
    return { s: 1, a: settings.group };
  }

  status(channelId: string) {
    const settings = this.settings(channelId);
    const swarm = this.#swarms.get(channelId);
    const totals = { ...(swarm?.gone ?? zeroReport()) };
    for (const v of swarm?.viewers.values() ?? []) for (const k of REPORT_KEYS) totals[k] += v.report[k];
    const media = totals.bytesFromPeers + totals.bytesFromOrigin;
    return {
      channelId,
      ...settings,
      ...this.layout(channelId),
      viewers: swarm?.viewers.size ?? 0,
      ...totals,
      peerShare: media ? totals.bytesFromPeers / media : 0,
      peers: [...(swarm?.viewers.values() ?? [])].map((v) => ({ peerId: v.peerId, substream: swarm?.plan?.peers.get(v.peerId)?.substream, ...v.report })),
    };
  }

  /** Forgets every swarm (shutdown). */
  clear(): void {
    this.#swarms.clear();
    this.#peers.clear();
  }

  #replan(swarm: Swarm, joining?: string): void {
    const before = swarm.plan;
    const order = [...swarm.viewers.values()].sort((x, y) => x.joinedAt - y.joinedAt).map((v) => v.peerId);
    const settings = this.settings(swarm.channelId);
    const plan = planSwarm(order, { substreams: settings.substreams, group: settings.group, maxPeersPerViewer: this.config.maxPeersPerViewer, maxConsumersPerPeer: this.config.maxConsumersPerPeer }, before);
    swarm.plan = plan;
    const layoutChanged = before?.s !== plan.s || before?.a !== plan.a;
    for (const [peerId, part] of plan.peers) {
      if (peerId === joining) continue;
      if (layoutChanged || peerPlanChanged(before?.peers.get(peerId) as PeerPlan | undefined, part)) this.emit('send', peerId, 'p2p:plan', this.#message(swarm, peerId));
    }
  }

  #message(swarm: Swarm, peerId: string): PlanMessage {
    const plan = swarm.plan!;
    const part = plan.peers.get(peerId);
    if (!part) throw new NotFoundError(`${peerId} is not in the swarm of ${swarm.channelId}`, 'P2P_NOT_IN_SWARM');
    return { channelId: swarm.channelId, peerId, s: plan.s, a: plan.a, ...part };
  }
}
