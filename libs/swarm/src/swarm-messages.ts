/**
 * The shapes of the tracker's messages (docs/signalling.md, `p2p:*`), shared
 * by the server and the web app's swarm agent. Types only, no imports: the
 * browser bundle takes them as they are.
 */

/** A viewer's place in its channel's swarm (`p2p:plan`, and the join's ack). */
export interface PlanMessage {
  channelId: string;
  peerId: string;
  /** Sub-streams in use now (adapted to the audience) and blocks per group. */
  s: number;
  a: number;
  substream: number;
  providers: { peerId: string; substream: number }[];
  consumers: string[];
}

/** The ack of `p2p:join`: the plan, the limits and timings, the ICE servers and where the blocks are. */
export interface JoinAck extends PlanMessage {
  iceServers: { urls: string | string[]; username?: string; credential?: string }[];
  maxPeersPerViewer: number;
  uploadKbps: number;
  peerWaitMs: number;
  urgentMs: number;
  blocksUrl: string;
  blockUrl: string;
}

/** What a viewer reports of where its blocks came from (`p2p:stats`), as totals since it joined. */
export interface PeerReport {
  bytesFromPeers: number;
  bytesFromOrigin: number;
  blocksFromPeers: number;
  blocksFromOrigin: number;
  /** Blocks a peer gave whose hash did not match (dropped, fetched again from the origin). */
  rejectedBlocks: number;
  bytesToPeers: number;
}
