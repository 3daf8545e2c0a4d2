import { z } from 'zod';
import { resourceId } from '@gw/common';

/** Payloads of the `cohost:*` socket events (see the contract). */
const invitationId = z.string().regex(/^inv_[A-Za-z0-9_-]{1,32}$/, 'not an invitation id');

export const cohostSchemas = {
  /** `record`: the co-hosting session this invitation starts is recorded (the channel's program) from its start to its end. */
  invite: z.strictObject({ channelId: resourceId, userId: resourceId, record: z.boolean().optional() }),
  apply: z.strictObject({ channelId: resourceId }),
  accept: z.strictObject({ invitationId }),
  reject: z.strictObject({ invitationId, reason: z.string().max(200).optional() }),
  cancel: z.strictObject({ invitationId }),
  kick: z.strictObject({ channelId: resourceId, userId: resourceId }),
  leave: z.strictObject({ channelId: resourceId }),
  end: z.strictObject({ channelId: resourceId }),
  /** Extension: who composes the picture, the gateway (`server`, default) or the host's page (`client`). */
  mode: z.strictObject({ channelId: resourceId, mixMode: z.enum(['server', 'client']) }),
};
