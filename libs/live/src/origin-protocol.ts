/**
 * Messages between the gateway and the embedded origin process (IPC), and the
 * vocabulary both sides share. Pure.
 */

/**
 * Who is allowed to publish a stream with a given key: the host onto their
 * channel's source stream, the gateway's program onto the channel itself, an
 * RTMP participant into a conference, the gateway's own mix output onto a stream
 * nobody else owns (an external origin's hooks; see own-publish.ts).
 */
export type PublisherRole = 'host' | 'program' | 'ingest' | 'output';

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

/**
 * The host pushes `live/<channelId>__host`; the gateway's program publishes
 * `live/<channelId>`, which viewers play. Origins accept only [A-Za-z0-9_-] in
 * stream names, so the suffix is reserved: no channel id may end with it.
 */
export const HOST_SOURCE_SUFFIX = '__host';
export const hostSourceStream = (channelId: string) => `${channelId}${HOST_SOURCE_SUFFIX}`;

/** Which channel a stream of the `live` app belongs to, and whether it is the host's source or the program. */
export function channelOfStream(stream: string): { channelId: string; part: 'host' | 'program' } {
  return stream.endsWith(HOST_SOURCE_SUFFIX)
    ? { channelId: stream.slice(0, -HOST_SOURCE_SUFFIX.length), part: 'host' }
    : { channelId: stream, part: 'program' };
}

export interface StreamRef {
  app: StreamApp;
  stream: string;
}

export type GatewayToOrigin =
  /** Replaces the whole key table. Sent at start and after every change. */
  | { type: 'keys'; keys: PublishKeyTable }
  /** Ends the current publisher of a stream (e.g. a participant removed from a conference). */
  | ({ type: 'kickPublisher' } & StreamRef);

export type OriginToGateway =
  | { type: 'ready' }
  | ({ type: 'publish'; sessionId: string; role: PublisherRole } & StreamRef)
  | ({ type: 'unpublish'; sessionId: string } & StreamRef)
  | { type: 'publishRejected'; path: string; reason: string }
  | ({ type: 'play'; sessionId: string; protocol: string } & StreamRef)
  | ({ type: 'playDone'; sessionId: string } & StreamRef);
