import { TypedEmitter } from '@gw/common';
import { LiveOrigin, LiveOriginEvents } from './live-origin';
import { PublisherRole, PublishKeyTable, StreamApp, streamKey } from './origin-protocol';
import { ownPublishKey, signOwnPublish } from './own-publish';
import { PublishKeys } from './publish-keys';

export interface ExternalOriginOptions {
  /** `rtmp://host:port/app`: channel streams are published as `<rtmpBase>/<channelId>`. */
  rtmpBase: string;
  /** Viewers' RTMP base; defaults to rtmpBase. */
  rtmpPlayBase: string;
  /** Viewers' HTTP-FLV base: `<base>/<channelId>.flv`. */
  playUrlBase: string;
  /**
   * Derives the keys the gateway signs its own mix outputs to this origin with; never
   * shown. Set when the origin's hooks are on (LIVE_HOOK_SECRET): without them it
   * decides nothing and outputs go as given.
   */
  ownKeySecret?: string;
}

/**
 * An origin the gateway does not run (SRS, nginx-rtmp, a CDN ingest). The gateway
 * only builds its URLs; the key rides in the `key` query, which SRS and nginx-rtmp
 * pass to their `on_publish` HTTP callback. Publish/play events arrive through
 * that callback (LiveHooksController) when the operator configures it; without it
 * the gateway does not learn of the host's own push.
 */
export class ExternalOrigin extends TypedEmitter<LiveOriginEvents> implements LiveOrigin {
  readonly kind = 'external' as const;
  /** Unknown for an origin by URL (SRS caches, nginx-rtmp does not): assume not. */
  readonly sendsCachedGop = false;
  readonly up = true;
  readonly #keys = new PublishKeys();

  constructor(private readonly options: ExternalOriginOptions) {
    super();
  }

  publishUrl(app: StreamApp, stream: string, key: string): string {
    return `${this.#base(app)}/${stream}?key=${encodeURIComponent(key)}`;
  }

  pullUrl(app: StreamApp, stream: string): string {
    return `${this.#base(app)}/${stream}`;
  }

  ownPublishUrl(url: string): string {
    const secret = this.options.ownKeySecret;
    return secret ? signOwnPublish(url, this.options.rtmpBase, secret) : url;
  }

  /**
   * Channels live under the configured app; ingest pushes (LIVE_INGEST=origin only)
   * under a sibling app named `ingest`, which the origin must have.
   */
  #base(app: StreamApp): string {
    return app === 'live' ? this.options.rtmpBase : this.options.rtmpBase.replace(/\/[^/]*$/, `/${app}`);
  }

  playUrls(channelId: string): { rtmp: string; flv: string } {
    return { rtmp: `${this.options.rtmpPlayBase}/${channelId}`, flv: `${this.options.playUrlBase}/${channelId}.flv` };
  }

  /**
   * An external origin is not ours to drive: the host's push ends when its client
   * stops it (on `cohost:started`); its key is refused from then on by on_publish.
   */
  kickPublisher(): void {}

  setPublishKeys(owner: string, keys: PublishKeyTable): void {
    this.#keys.set(owner, keys);
  }

  publishRole(app: StreamApp, stream: string, key: string): PublisherRole | undefined {
    return this.#keys.roleOf(streamKey(app, stream), key);
  }

  /**
   * Decides an on_publish callback: the role the key grants on that stream, if any.
   * A stream the key table holds (a channel's, a participant's) opens only with its
   * keys; any other opens with the gateway's own key for it (a mix output).
   */
  roleOf(app: StreamApp, stream: string, key: string): PublisherRole | undefined {
    const path = streamKey(app, stream);
    const role = this.#keys.roleOf(path, key);
    const secret = this.options.ownKeySecret;
    if (role || this.#keys.owns(path) || !secret) return role;
    return key === ownPublishKey(secret, { app, stream }) ? 'output' : undefined;
  }

  async start(): Promise<void> {
    this.emit('up');
  }

  async stop(): Promise<void> {}
}
