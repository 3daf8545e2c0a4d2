import { TurnCredentials } from './credentials';

/** One entry of RTCConfiguration.iceServers. */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** What GET /ice-servers and the `media:join` ack carry. */
export interface IceServersView {
  iceServers: IceServer[];
  /** Seconds the credentials stay valid (0 when there are none). */
  ttlSeconds: number;
}

/** Where clients reach the embedded TURN server. */
export interface TurnEndpoint {
  host: string;
  port: number;
  tlsPort?: number;
}

/** An IPv6 literal goes in brackets in a URL. */
function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** STUN, TURN over UDP and TCP, and TURN over TLS when it listens for TLS. */
export function embeddedTurnUrls({ host, port, tlsPort }: TurnEndpoint): string[] {
  const h = urlHost(host);
  const urls = [`stun:${h}:${port}`, `turn:${h}:${port}?transport=udp`, `turn:${h}:${port}?transport=tcp`];
  if (tlsPort !== undefined) urls.push(`turns:${h}:${tlsPort}?transport=tcp`);
  return urls;
}

/** The ICE servers a client gets: one entry with all URLs and the credentials, or none. */
export function iceServersView(urls: string[], credentials: TurnCredentials | undefined): IceServersView {
  if (!urls.length || !credentials) return { iceServers: [], ttlSeconds: 0 };
  return { iceServers: [{ urls, username: credentials.username, credential: credentials.credential }], ttlSeconds: credentials.ttlSeconds };
}
