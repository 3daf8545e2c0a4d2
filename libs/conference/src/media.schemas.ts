import { z } from 'zod';
import { resourceId } from '@gw/common';
import { MEDIA_PATHS } from '@gw/turn';
import { MUTE_KINDS, MuteKind } from './mutes';

/**
 * Payloads of the `media:*` socket events (docs/signalling.md). Nested
 * mediasoup structures are checked for shape here and in depth by mediasoup.
 */
const mediasoupObject = z.looseObject({});
const id = z.string().min(1).max(64);

export const mediaSchemas = {
  join: z.strictObject({ conferenceId: resourceId, displayName: z.string().min(1).max(64).optional() }),
  createTransport: z.strictObject({ direction: z.enum(['send', 'recv']) }),
  connectTransport: z.strictObject({
    transportId: id,
    dtlsParameters: z.looseObject({ fingerprints: z.array(mediasoupObject).min(1).max(8), role: z.enum(['auto', 'client', 'server']).optional() }),
  }),
  restartIce: z.strictObject({ transportId: id }),
  produce: z.strictObject({
    transportId: id,
    kind: z.enum(['audio', 'video']),
    rtpParameters: z.looseObject({ codecs: z.array(mediasoupObject).min(1).max(16), encodings: z.array(mediasoupObject).max(8).optional() }),
    appData: z.record(z.string().max(64), z.union([z.string().max(256), z.number(), z.boolean()])).optional(),
  }),
  consume: z.strictObject({
    producerId: id,
    rtpCapabilities: z.looseObject({ codecs: z.array(mediasoupObject).max(64) }),
  }),
  resumeConsumer: z.strictObject({ consumerId: id }),
  closeProducer: z.strictObject({ producerId: id }),
  leave: z.strictObject({}).optional(),
  p2pSignal: z.strictObject({
    conferenceId: resourceId,
    toUserId: z.string().min(1).max(64),
    description: z.strictObject({ type: z.enum(['offer', 'answer']), sdp: z.string().min(1).max(32768) }).optional(),
    candidate: z.looseObject({ candidate: z.string().max(1024) }).nullable().optional(),
  }),
  path: z.strictObject({ conferenceId: resourceId, path: z.enum(MEDIA_PATHS) }),
  mute: z.strictObject({ conferenceId: resourceId, userId: z.string().min(1).max(64), kind: z.enum(MUTE_KINDS as [MuteKind, ...MuteKind[]]), locked: z.boolean().optional() }),
  remove: z.strictObject({ conferenceId: resourceId, userId: z.string().min(1).max(64) }),
  stopShare: z.strictObject({ conferenceId: resourceId, userId: z.string().min(1).max(64) }),
  setName: z.strictObject({ conferenceId: resourceId, userId: z.string().min(1).max(64), displayName: z.string().min(1).max(64) }),
  unmute: z.strictObject({ conferenceId: resourceId, userId: z.string().min(1).max(64), kind: z.enum(MUTE_KINDS as [MuteKind, ...MuteKind[]]) }),
  stats: z.strictObject({
    conferenceId: resourceId,
    rttMs: z.number().min(0).max(60000).optional(),
    availableKbps: z.number().min(0).max(1_000_000).optional(),
    fps: z.number().min(0).max(240).optional(),
    targetFps: z.number().min(0).max(240).optional(),
  }),
};
