import type { TypedEmitter } from '@gw/common';
import type { PublisherRole, PublishKeyTable, StreamApp, StreamRef } from './origin-protocol';

export interface LiveOriginEvents extends Record<string, unknown[]> {
  publish: [StreamRef & { sessionId: string; role: PublisherRole }];
  unpublish: [StreamRef & { sessionId: string }];
  publishRejected: [{ path: string; reason: string }];
  play: [StreamRef & { sessionId: string; protocol: string }];
  playDone: [StreamRef & { sessionId: string }];
  /** The origin went away (crash or restart); every publish and play on it ended. */
  down: [{ reason: string }];
  /** The origin is (again) accepting publishers and players. */
  up: [];
}

/**
 * The live system port (直播系统): where channels are published and played, and
 * where RTMP participants push into conferences. Adapters: the embedded
 * node-media-server process, or an external origin (SRS, nginx-rtmp) by URL.
 */
export interface LiveOrigin extends TypedEmitter<LiveOriginEvents> {
  readonly kind: 'embedded' | 'external';
  /**
   * True when a new reader of a stream gets the origin's cached GOP at once (so a
   * short probe of a pull finds both streams). nginx-rtmp sends none.
   */
  readonly sendsCachedGop: boolean;
  /** RTMP URL a publisher pushes to; carries the secret key. */
  publishUrl(app: StreamApp, stream: string, key: string): string;
  /** Viewers' URLs of a channel; never carry a publish key. */
  playUrls(channelId: string): { rtmp: string; flv: string };
  /** RTMP URL the gateway itself reads a stream from (e.g. an ingest push). */
  pullUrl(app: StreamApp, stream: string): string;
  /** Ends whoever publishes the stream now (their key should be withdrawn first). */
  kickPublisher(app: StreamApp, stream: string): void;
  /** Replaces one owner's part of the publish-key table (the origin enforces the union). */
  setPublishKeys(owner: string, keys: PublishKeyTable): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True while the origin accepts publishers. */
  readonly up: boolean;
  /** Process id of the origin when it is a child of the gateway. */
  readonly pid?: number;
}

/** Injection token for the LiveOrigin in use. */
export const LIVE_ORIGIN = Symbol('LIVE_ORIGIN');
