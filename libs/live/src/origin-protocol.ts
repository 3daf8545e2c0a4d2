/**
 * Messages between the gateway and the embedded origin process (IPC), and the
 * vocabulary both sides share. Pure.
 */

/** Who is allowed to publish a stream with a given key. */
export type PublisherRole = 'host' | 'mix' | 'ingest';

/**
 * Apps (the first path segment of an RTMP URL): `live` holds channels
 * (rtmp://host:port/live/<channelId>), `ingest` holds RTMP participants'
 * pushes into conferences.
 */
export type StreamApp = 'live' | 'ingest';
export const LIVE_APP: StreamApp = 'live';
export const INGEST_APP: StreamApp = 'ingest';

/** `<app>/<stream>` → (publish key → role). */
export type PublishKeyTable = Record<string, Record<string, PublisherRole>>;

export const streamKey = (app: StreamApp, stream: string) => `${app}/${stream}`;

export interface StreamRef {
  app: StreamApp;
  stream: string;
}

export type GatewayToOrigin =
  /** Replaces the whole key table. Sent at start and after every change. */
  | { type: 'keys'; keys: PublishKeyTable }
  /** Ends the current publisher of a stream (e.g. the host's own push when a mix takes over). */
  | ({ type: 'kickPublisher' } & StreamRef);

export type OriginToGateway =
  | { type: 'ready' }
  | ({ type: 'publish'; sessionId: string; role: PublisherRole } & StreamRef)
  | ({ type: 'unpublish'; sessionId: string } & StreamRef)
  | { type: 'publishRejected'; path: string; reason: string }
  | ({ type: 'play'; sessionId: string; protocol: string } & StreamRef)
  | ({ type: 'playDone'; sessionId: string } & StreamRef);
