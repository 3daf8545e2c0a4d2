/** The ladder rung a connected transport uses (docs/signalling.md, `media:path`). */
export type MediaPath = 'p2p' | 'sfu-udp' | 'sfu-tcp' | 'turn-udp' | 'turn-tcp' | 'turn-tls';

interface StatLike {
  type: string;
  id: string;
  selectedCandidatePairId?: string;
  localCandidateId?: string;
  nominated?: boolean;
  state?: string;
  candidateType?: string;
  protocol?: string;
  relayProtocol?: string;
}

/**
 * The rung of a transport to the SFU, read from its getStats(): the selected
 * candidate pair's local candidate is a relay (TURN, over the leg it names) or
 * not (the SFU directly, over UDP or ICE-TCP). Undefined until a pair is selected.
 */
export function sfuPathFromStats(report: RTCStatsReport): MediaPath | undefined {
  const stats = new Map<string, StatLike>();
  report.forEach((s: StatLike) => stats.set(s.id, s));
  const all = [...stats.values()];
  const pairId = all.find((s) => s.type === 'transport' && s.selectedCandidatePairId)?.selectedCandidatePairId;
  const pair = pairId ? stats.get(pairId) : all.find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
  const local = pair?.localCandidateId ? stats.get(pair.localCandidateId) : undefined;
  if (!local) return undefined;
  if (local.candidateType === 'relay') {
    const leg = local.relayProtocol ?? 'udp';
    return leg === 'tls' ? 'turn-tls' : leg === 'tcp' ? 'turn-tcp' : 'turn-udp';
  }
  return local.protocol === 'tcp' ? 'sfu-tcp' : 'sfu-udp';
}
