import { z } from 'zod';
import { resourceId } from '@gw/common';

const peerId = z.string().regex(/^pe_[A-Za-z0-9_-]{1,32}$/);
const total = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Payloads of the `p2p:*` swarm events (docs/signalling.md) and the swarm's REST bodies. */
export const swarmSchemas = {
  join: z.strictObject({ channelId: resourceId }),
  leave: z.strictObject({ channelId: resourceId }),
  signal: z.strictObject({
    channelId: resourceId,
    toPeerId: peerId,
    description: z.strictObject({ type: z.enum(['offer', 'answer']), sdp: z.string().min(1).max(32768) }).optional(),
    candidate: z.looseObject({ candidate: z.string().max(1024) }).nullable().optional(),
  }),
  stats: z.strictObject({
    channelId: resourceId,
    bytesFromPeers: total,
    bytesFromOrigin: total,
    blocksFromPeers: total,
    blocksFromOrigin: total,
    rejectedBlocks: total,
    bytesToPeers: total,
  }),
  settings: z.strictObject({
    enabled: z.boolean().optional(),
    substreams: z.number().int().min(1).max(32).optional(),
    group: z.number().int().min(1).max(16).optional(),
  }),
};
