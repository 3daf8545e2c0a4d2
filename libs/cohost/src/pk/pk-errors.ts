import { ConflictError } from '@gw/common';

/**
 * A channel whose co-hosting cannot go into a PK: its host mixes on their own
 * client (the PK's server mix has no way to show the host page's picture), or
 * another conference holds its program. A channel co-hosting with a server
 * mix can PK: its guests stay in its own picture.
 */
export class PkChannelCohostingError extends ConflictError {
  constructor(channelId: string, why = 'is co-hosting outside the PK') {
    super(`channel ${channelId} ${why}; end that first`, 'PK_CHANNEL_COHOSTING');
  }
}
