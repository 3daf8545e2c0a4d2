import type { TypedEmitter } from '@gw/common';
import type { PublisherRole, PublishKeyTable } from './origin-protocol';

export interface LiveOriginEvents extends Record<string, unknown[]> {
  publish: [{ channelId: string; sessionId: string; role: PublisherRole }];
  unpublish: [{ channelId: string; sessionId: string }];
  publishRejected: [{ channelId: string; reason: string }];
  play: [{ channelId: string; sessionId: string; protocol: string }];
  playDone: [{ channelId: string; sessionId: string }];
  /** The origin went away (crash or restart); every publish and play on it ended. */
  down: [{ reason: string }];
  /** The origin is (again) accepting publishers and players. */
  up: [];
}

/**
 * The live system port (直播系统): where channels are published and played.
 * Adapters: the embedded node-media-server process, or an external origin
 * (SRS, nginx-rtmp, a CDN ingest) addressed by URL.
 */
export interface LiveOrigin extends TypedEmitter<LiveOriginEvents> {
  readonly kind: 'embedded' | 'external';
  /** RTMP URL a publisher pushes to; carries the secret key. */
  publishUrl(channelId: string, key: string): string;
  /** Viewers' URLs; never carry a publish key. */
  playUrls(channelId: string): { rtmp: string; flv: string };
  /** Installs the table of valid publish keys (the embedded origin enforces it). */
  setPublishKeys(keys: PublishKeyTable): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True while the origin accepts publishers. */
  readonly up: boolean;
  /** Process id of the origin when it is a child of the gateway. */
  readonly pid?: number;
}

/** Injection token for the LiveOrigin in use. */
export const LIVE_ORIGIN = Symbol('LIVE_ORIGIN');
