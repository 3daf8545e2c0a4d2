import { effectiveSubstreams } from './substreams';

/**
 * The tracker's plan for one channel's swarm (seed 002): which sub-stream each
 * viewer takes from the origin, and which peer gives it each of the others.
 * Pure: the tracker keeps the viewers and the last plan, and sends each viewer
 * its part of the new one when it changed.
 */
export interface SwarmLimits {
  /** Sub-streams the channel asks for. */
  substreams: number;
  /** Blocks per group (the seed's second form; 1 is its first). */
  group: number;
  /** Peers a viewer takes blocks from, at most (so at most this + 1 sub-streams). */
  maxPeersPerViewer: number;
  /** Viewers a peer gives blocks to, at most (its upload). */
  maxConsumersPerPeer: number;
}

export interface PeerPlan {
  substream: number;
  /** The peer to take each other sub-stream from; a sub-stream missing here comes from the origin. */
  providers: { peerId: string; substream: number }[];
  /** The peers this one sends its own sub-stream to. */
  consumers: string[];
}

export interface SwarmPlan {
  s: number;
  a: number;
  peers: Map<string, PeerPlan>;
}

/**
 * Plans a swarm of `viewers` (in the order they joined). Viewers keep their
 * sub-stream and their providers from `previous` where that stays balanced:
 * every sub-stream 1…s is held by ⌊n/s⌋ or ⌈n/s⌉ viewers, so each has a holder;
 * each viewer takes each other sub-stream from the holder of it serving the
 * fewest consumers, within the upload cap.
 */
export function planSwarm(viewers: readonly string[], limits: SwarmLimits, previous?: SwarmPlan): SwarmPlan {
  const n = viewers.length;
  const s = effectiveSubstreams(limits.substreams, n, limits.maxPeersPerViewer);
  const a = limits.group;
  const keepAt = Math.ceil(n / s);
  const count = new Array<number>(s + 1).fill(0);
  const substream = new Map<string, number>();
  const sameLayout = previous?.s === s && previous.a === a;
  for (const id of viewers) {
    const was = sameLayout ? previous?.peers.get(id)?.substream : undefined;
    if (was !== undefined && was <= s && count[was] < keepAt) {
      substream.set(id, was);
      count[was] += 1;
    }
  }
  for (const id of viewers) {
    if (substream.has(id)) continue;
    let best = 1;
    for (let b = 2; b <= s; b += 1) if (count[b] < count[best]) best = b;
    substream.set(id, best);
    count[best] += 1;
  }
  // Kept viewers may have left a sub-stream without a holder: move the newest of the fullest one there.
  for (;;) {
    let low = 1;
    let high = 1;
    for (let b = 2; b <= s; b += 1) {
      if (count[b] < count[low]) low = b;
      if (count[b] > count[high]) high = b;
    }
    if (count[high] - count[low] <= 1) break;
    const moved = [...viewers].reverse().find((id) => substream.get(id) === high)!;
    substream.set(moved, low);
    count[high] -= 1;
    count[low] += 1;
  }

  const holders = new Map<number, string[]>();
  for (const id of viewers) {
    const b = substream.get(id)!;
    holders.set(b, [...(holders.get(b) ?? []), id]);
  }
  const consumers = new Map<string, string[]>(viewers.map((id) => [id, []]));
  const providers = new Map<string, { peerId: string; substream: number }[]>(viewers.map((id) => [id, []]));
  const canServe = (p: string) => consumers.get(p)!.length < limits.maxConsumersPerPeer;
  for (const id of viewers) {
    const own = substream.get(id)!;
    const before = previous?.peers.get(id)?.providers ?? [];
    for (let b = 1; b <= s; b += 1) {
      if (b === own) continue;
      const kept = before.find((p) => p.substream === b && substream.get(p.peerId) === b && canServe(p.peerId));
      let provider = kept?.peerId;
      if (!provider) {
        const candidates = (holders.get(b) ?? []).filter(canServe);
        candidates.sort((x, y) => consumers.get(x)!.length - consumers.get(y)!.length);
        provider = candidates[0];
      }
      if (!provider) continue;
      consumers.get(provider)!.push(id);
      providers.get(id)!.push({ peerId: provider, substream: b });
    }
  }
  const peers = new Map<string, PeerPlan>();
  for (const id of viewers) peers.set(id, { substream: substream.get(id)!, providers: providers.get(id)!, consumers: consumers.get(id)! });
  return { s, a, peers };
}

/** True if a viewer's part of the plan changed (it is told again). */
export function peerPlanChanged(before: PeerPlan | undefined, after: PeerPlan): boolean {
  if (!before || before.substream !== after.substream) return true;
  const key = (p: PeerPlan) => JSON.stringify([p.providers.map((x) => `${x.substream}:${x.peerId}`).sort(), [...p.consumers].sort()]);
  return key(before) !== key(after);
}
