import { Inject, Logger } from '@nestjs/common';
import { OnGatewayConnection, OnGatewayInit, WebSocketGateway } from '@nestjs/websockets';
import type { Server, Socket } from 'socket.io';
import { describeError, PayloadTooLargeError } from '@gw/common';
import { RateLimits, TokenService } from '@gw/auth';
import { exceedsJsonBytes, HARD_MESSAGE_BYTES, MAX_EVENT_BYTES } from './message-size';
import { NodeRpc } from './node-rpc';
import { Notifier, channelHostRoom, channelRoom, userRoom } from './notifier';
import { Presence } from './presence';

/**
 * The socket.io server (IM). Authenticates every connection at the handshake
 * (`auth: {token}`), puts the socket in its user's room, and disconnects it when
 * its token expires, telling it first (`auth:expired`). Event handlers live in
 * the domain gateways (media, co-host), which read the principal from the socket.
 */
@WebSocketGateway({ serveClient: false, maxHttpBufferSize: HARD_MESSAGE_BYTES, cors: { origin: false } })
export class ImGateway implements OnGatewayInit, OnGatewayConnection {
  readonly #logger = new Logger('Im');

  constructor(
    @Inject(TokenService) private readonly tokens: TokenService,
    @Inject(Notifier) private readonly notifier: Notifier,
    @Inject(RateLimits) private readonly limits: RateLimits,
    @Inject(Presence) private readonly presence: Presence,
    @Inject(NodeRpc) private readonly rpc: NodeRpc,
  ) {}

  afterInit(server: Server): void {
    this.notifier.attach(server);
    this.presence.attach(server);
    this.rpc.attach(server);
    server.use((socket, next) => {
      const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      try {
        if (typeof token !== 'string') throw new Error('missing token');
        socket.data.principal = this.tokens.verify(token);
        next();
      } catch (error) {
        const { code, message } = describeError(error);
        const refusal = new Error(message) as Error & { data: unknown };
        refusal.data = { code: code === 'INTERNAL' ? 'UNAUTHENTICATED' : code, message };
        next(refusal);
      }
    });
  }

  handleConnection(socket: Socket): void {
    const principal = socket.data.principal;
    if (!principal) return;
    void socket.join(userRoom(principal.userId));
    // Every event counts against its user and address; one over the limit is answered
    // RATE_LIMITED on its ack (if it asked for one) and never reaches a handler. So is
    // one larger than MAX_EVENT_BYTES, with PAYLOAD_TOO_LARGE: the connection stays up
    // (only a message over the transport's hard limit closes it; see message-size.ts).
    const ip = socket.handshake.address;
    socket.use((packet, next) => {
      try {
        this.limits.socket(principal.userId, ip);
        if (exceedsJsonBytes(packet, MAX_EVENT_BYTES)) {
          throw new PayloadTooLargeError(`event payload larger than ${MAX_EVENT_BYTES} bytes`);
        }
        next();
      } catch (error) {
        const ack = packet[packet.length - 1];
        if (typeof ack === 'function') {
          const { code, message } = describeError(error);
          ack({ ok: false, error: { code, message } });
        }
      }
    });
    // Tokens scoped to a channel (its host, its viewers) hear the channel's state changes.
    if (principal.channelId) void socket.join(channelRoom(principal.channelId));
    if (principal.channelId && principal.role === 'host') void socket.join(channelHostRoom(principal.channelId));
    const remaining = principal.expiresAt - Date.now();
    const timer = setTimeout(() => {
      socket.emit('auth:expired', { code: 'TOKEN_EXPIRED', message: 'token expired' });
      socket.disconnect(true);
    }, Math.max(0, Math.min(remaining, 2 ** 31 - 1)));
    socket.once('disconnect', () => {
      clearTimeout(timer);
      this.presence.disconnected(principal.userId);
    });
    this.presence.connected(principal.userId);
    this.#logger.debug(`socket ${socket.id} connected as ${principal.userId} (${principal.role})`);
  }
}
