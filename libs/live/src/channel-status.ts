/** What viewers of a channel see right now. Pure. */
export type ChannelState = 'idle' | 'live' | 'cohosting';
export type ChannelSource = 'none' | 'host' | 'mix';

export interface ChannelActivity {
  /** The gateway's program publishes the channel. */
  programOnAir: boolean;
  /** What the program shows: the host's own push or a mix. */
  feed?: 'host' | 'mix';
  /** A co-hosting session runs on the channel (set by the co-host manager). */
  cohosting: boolean;
}

/**
 * The source is the program's feed while the program is on air. The state is
 * `cohosting` during a co-host session, `live` whenever the program is on
 * air, and `idle` otherwise.
 */
export function deriveChannelStatus(a: ChannelActivity): { state: ChannelState; source: ChannelSource } {
  const source: ChannelSource = a.programOnAir && a.feed ? a.feed : 'none';
  const state: ChannelState = a.cohosting ? 'cohosting' : source === 'none' ? 'idle' : 'live';
  return { state, source };
}
