import type { TurnConfig } from '@gw/config';
import { turnCredentials } from './credentials';
import { EmbeddedTurnServer } from './embedded-turn';
import { embeddedTurnUrls, iceServersView, IceServersView } from './ice-servers';
import { TurnClientProtocol } from './media-path';

/** Who asks for ICE servers: a token's user (credentials end with the token), or the admin key. */
export interface IceServersRequest {
  userId: string;
  /** Epoch ms; unset for the admin key. */
  tokenExpiresAtMs?: number;
}

/**
 * The gateway's STUN/TURN: hands out ICE servers with fresh credentials
 * (GET /ice-servers, `media:join`), and tells whether an address the SFU sees
 * is one of the embedded TURN server's relays, and over what the client reached it.
 */
export class TurnService {
  readonly #urls: string[];
  readonly #secret: string | undefined;

  constructor(
    readonly config: TurnConfig,
    /** The supervised server when TURN is embedded. */
    readonly server: EmbeddedTurnServer | undefined,
    private readonly now: () => number = Date.now,
  ) {
    if (config.mode === 'embedded') {
      if (!config.secret) throw new Error('the embedded TURN server needs its secret resolved (loadConfig does it)');
      this.#urls = embeddedTurnUrls({ host: config.announcedHost, port: config.port, tlsPort: config.tls?.port });
      this.#secret = config.secret;
    } else if (config.mode === 'external') {
      this.#urls = config.urls;
      this.#secret = config.secret;
    } else {
      this.#urls = [];
      this.#secret = undefined;
    }
  }

  /** P2P_TIMEOUT_MS: how long clients try a direct path before the SFU. */
  get p2pTimeoutMs(): number {
    return this.config.p2pTimeoutMs;
  }

  iceServers({ userId, tokenExpiresAtMs }: IceServersRequest): IceServersView {
    if (!this.#secret || !this.#urls.length) return iceServersView([], undefined);
    const credentials = turnCredentials({ secret: this.#secret, userId, ttlSeconds: this.config.ttlSeconds, tokenExpiresAtMs, nowMs: this.now() });
    return iceServersView(this.#urls, credentials);
  }

  /** The client's leg when `ip:port` is a relayed address of the embedded TURN server; undefined otherwise (or unknowable). */
  async relayedClientProtocol(ip: string, port: number): Promise<TurnClientProtocol | undefined> {
    const server = this.server;
    if (!server?.running) return undefined;
    const relayIp = server.relayIp;
    if (relayIp !== undefined && relayIp !== ip) return undefined;
    return (await server.relaySession(ip, port))?.clientProtocol;
  }
}
