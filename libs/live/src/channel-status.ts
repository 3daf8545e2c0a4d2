/** What viewers of a channel see right now. Pure. */
export type ChannelState = 'idle' | 'live' | 'cohosting';
export type ChannelSource = 'none' | 'host' | 'mix';

export interface ChannelActivity {
  hostPublishing: boolean;
  mixPublishing: boolean;
  /** A co-hosting session runs on the channel (set by the co-host manager). */
  cohosting: boolean;
}

/**
 * The source is the mix whenever a mix publishes (it replaces the host's own
 * push), else the host. The state is `cohosting` during a co-host session, `live`
 * whenever something publishes, and `idle` otherwise.
 */
export function deriveChannelStatus(a: ChannelActivity): { state: ChannelState; source: ChannelSource } {
  const source: ChannelSource = a.mixPublishing ? 'mix' : a.hostPublishing ? 'host' : 'none';
  const state: ChannelState = a.cohosting ? 'cohosting' : source === 'none' ? 'idle' : 'live';
  return { state, source };
}
