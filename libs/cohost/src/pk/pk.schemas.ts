import { z } from 'zod';
import { resourceId } from '@gw/common';
import { MAX_BATTLE_SECONDS } from './pk-desk';

/** Payloads of the `pk:*` socket events and the score route (see docs/signalling.md). */
export const pkId = z.string().regex(/^pk_[A-Za-z0-9_-]{1,32}$/, 'not a PK id');

export const pkSchemas = {
  invite: z.strictObject({ channelId: resourceId, targetChannelId: resourceId }),
  accept: z.strictObject({ pkId }),
  reject: z.strictObject({ pkId, reason: z.string().max(200).optional() }),
  cancel: z.strictObject({ pkId }),
  end: z.strictObject({ pkId }),
  battle: z.strictObject({ pkId, durationSeconds: z.number().int().min(1).max(MAX_BATTLE_SECONDS) }),
  /** Points for a channel in the running battle (the platform turns gifts into points); negative takes points away, never below 0. */
  score: z.strictObject({ channelId: resourceId, delta: z.number().int().min(-1_000_000_000).max(1_000_000_000) }),
};
