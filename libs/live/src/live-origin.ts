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
 * where hosts and RTMP participants push. Adapters: the embedded
 * node-media-server process, or an external origin (SRS, nginx-rtmp) by URL.
 * Two roles, which may be one origin: the live origin (LIVE_ORIGIN: programs,
 * viewers, mix outputs) and the RTMP ingest (LIVE_INGEST: hosts' and
 * participants' pushes, which the gateway pulls).
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
  /**
   * The URL the gateway publishes one of its own outputs (a mix task's) to: on an
   * origin that decides publishes by callbacks, a URL on it without a key gets the
   * gateway's own, so its hooks let it through; any other URL is returned as is.
   */
  ownPublishUrl(url: string): string;
  /** Ends whoever publishes the stream now (their key should be withdrawn first). */
  kickPublisher(app: StreamApp, stream: string): void;
  /** Replaces one owner's part of the publish-key table (the origin enforces the union). */
  setPublishKeys(owner: string, keys: PublishKeyTable): void;
  /** The role the publish-key table grants `key` on the stream (the check a push to it meets), if any. */
  publishRole(app: StreamApp, stream: string, key: string): PublisherRole | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True while the origin accepts publishers. */
  readonly up: boolean;
  /** Process id of the origin when it is a child of the gateway. */
  readonly pid?: number;
}

/** Injection token for the live origin: where channels are published and played. */
export const LIVE_ORIGIN = Symbol('LIVE_ORIGIN');

/**
 * Injection token for the RTMP ingest: the origin hosts and RTMP participants push
 * to. The embedded origin (the same object as LIVE_ORIGIN when that is embedded,
 * else one the gateway runs beside the external origin), or the external origin
 * itself with LIVE_INGEST=origin.
 */
export const LIVE_INGEST = Symbol('LIVE_INGEST');
