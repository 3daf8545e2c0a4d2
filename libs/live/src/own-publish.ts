import { createHmac } from 'node:crypto';
import { INGEST_APP, LIVE_APP, StreamRef, streamKey } from './origin-protocol';

/**
 * The gateway's own publishes to an external origin that decides publishes by
 * its callbacks (LiveHooksController). Channel programs, hosts and RTMP
 * participants carry keys from the key table; a mix output goes to whatever
 * stream its task names, which no table holds, so the gateway signs it with a
 * key derived from the stream's name and a secret only it knows. Pure.
 */

/**
 * How an origin's callback names a stream: its `ingest` app holds RTMP
 * participants, every other app counts as `live` (the configured app).
 */
export function hookStreamRef(app: string | undefined, stream: string): StreamRef {
  return { app: app === INGEST_APP ? INGEST_APP : LIVE_APP, stream };
}

/** The key the gateway publishes a stream nobody owns with (a mix output). */
export function ownPublishKey(secret: string, ref: StreamRef): string {
  return createHmac('sha256', secret).update(`own-publish:${streamKey(ref.app, ref.stream)}`).digest('base64url').slice(0, 24);
}

/**
 * `url` as the gateway publishes it: with its own key when it targets the origin
 * at `originBase` (same scheme, host and port) and carries no `key` of its own;
 * unchanged otherwise (other servers, or a key the caller chose, such as a
 * channel's publishUrl).
 */
export function signOwnPublish(url: string, originBase: string, secret: string): string {
  let target: URL;
  let origin: URL;
  try {
    target = new URL(url);
    origin = new URL(originBase);
  } catch {
    return url;
  }
  const defaultPort = (u: URL) => u.port || (u.protocol === 'rtmps:' ? '443' : '1935');
  if (target.protocol !== origin.protocol || target.hostname.toLowerCase() !== origin.hostname.toLowerCase() || defaultPort(target) !== defaultPort(origin)) {
    return url;
  }
  if (target.searchParams.has('key')) return url;
  // ffmpeg sends every path segment but the last as the RTMP app, and the last as the stream name.
  const segments = target.pathname.split('/').filter(Boolean);
  if (segments.length < 2) return url;
  let ref: StreamRef;
  try {
    ref = hookStreamRef(segments.slice(0, -1).map(decodeURIComponent).join('/'), decodeURIComponent(segments[segments.length - 1]));
  } catch {
    return url;
  }
  target.searchParams.append('key', ownPublishKey(secret, ref));
  return target.href;
}
