/**
 * Messages between the gateway and the embedded origin process (IPC). Pure types,
 * shared by both sides.
 */

/** Who is allowed to publish a channel with a given key. */
export type PublisherRole = 'host' | 'mix';

/** channelId → (publish key → role). */
export type PublishKeyTable = Record<string, Record<string, PublisherRole>>;

export type GatewayToOrigin =
  /** Replaces the whole key table. Sent at start and after every change. */
  { type: 'keys'; keys: PublishKeyTable };

export type OriginToGateway =
  | { type: 'ready' }
  | { type: 'publish'; channelId: string; sessionId: string; role: PublisherRole }
  | { type: 'unpublish'; channelId: string; sessionId: string }
  | { type: 'publishRejected'; channelId: string; reason: string }
  | { type: 'play'; channelId: string; sessionId: string; protocol: string }
  | { type: 'playDone'; channelId: string; sessionId: string };

/** The stream app every channel lives under: rtmp://host:port/live/<channelId>. */
export const LIVE_APP = 'live';
