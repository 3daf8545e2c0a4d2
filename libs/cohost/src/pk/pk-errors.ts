import { ConflictError } from '@gw/common';

/**
 * A channel co-hosting with guests cannot take part in a PK (and a channel in
 * a PK shows only its PK): its guests' picture and the PK's mirrored halves
 * would need two mixes on one program.
 */
export class PkChannelCohostingError extends ConflictError {
  constructor(channelId: string) {
    super(`channel ${channelId} is co-hosting with guests; end that first`, 'PK_CHANNEL_COHOSTING');
  }
}
