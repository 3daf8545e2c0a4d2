/**
 * The rung of the connectivity ladder a participant's media takes: a direct
 * peer-to-peer path, the SFU over UDP or ICE-TCP, or the SFU through TURN with
 * the client's leg over UDP, TCP or TLS.
 */
export const MEDIA_PATHS = ['p2p', 'sfu-udp', 'sfu-tcp', 'turn-udp', 'turn-tcp', 'turn-tls'] as const;
export type MediaPath = (typeof MEDIA_PATHS)[number];

/** A relayed client's leg to the TURN server, as coturn reports its session. */
export type TurnClientProtocol = 'udp' | 'tcp' | 'tls' | 'dtls';

/** The SFU's selected ICE tuple, as mediasoup reports it (only what the path needs). */
export interface SelectedTuple {
  remoteIp: string;
  remotePort: number;
  protocol: 'udp' | 'tcp';
}

/**
 * The path the server sees for a selected tuple: through TURN when its remote
 * address is a relay address of the embedded TURN server (then the client's leg
 * decides the rung; DTLS counts as TLS), else the SFU directly by the tuple's protocol.
 */
export function pathOfTuple(tuple: SelectedTuple, relayedClientProtocol?: TurnClientProtocol): MediaPath {
  if (relayedClientProtocol) return relayedClientProtocol === 'udp' ? 'turn-udp' : relayedClientProtocol === 'tcp' ? 'turn-tcp' : 'turn-tls';
  return tuple.protocol === 'tcp' ? 'sfu-tcp' : 'sfu-udp';
}

/** Participants per rung, every rung present (0 when none), for /metrics. */
export function countByPath(paths: Iterable<MediaPath | undefined>): Record<MediaPath, number> {
  const counts = Object.fromEntries(MEDIA_PATHS.map((p) => [p, 0])) as Record<MediaPath, number>;
  for (const path of paths) if (path) counts[path] += 1;
  return counts;
}
