import { Inject, Logger } from '@nestjs/common';
import { ConnectedSocket, MessageBody, OnGatewayInit, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Server, Socket } from 'socket.io';
import { parseInput, ValidationError } from '@gw/common';
import { principalOf, respond } from '@gw/im';
import { TurnService } from '@gw/turn';
import { NotInSwarmError, SwarmService } from './swarm.service';
import type { JoinAck } from './swarm-messages';
import { swarmSchemas as s } from './swarm.schemas';

/**
 * The tracker's socket events (`p2p:join`, `p2p:leave`, `p2p:swarm-signal`,
 * `p2p:stats`; the server sends `p2p:plan` and `p2p:swarm-signal`). Any
 * token may join a channel's swarm (its HLS is public); a socket is in at
 * most one swarm and leaves it when it disconnects.
 */
@WebSocketGateway()
export class SwarmGateway implements OnGatewayInit {
  readonly #logger = new Logger('Swarm');
  readonly #sockets = new Map<string, Socket>();

  constructor(
    @Inject(SwarmService) private readonly swarms: SwarmService,
    @Inject(TurnService) private readonly turn: TurnService,
  ) {}

  afterInit(_server: Server): void {
    this.swarms.on('send', (peerId, event, payload) => this.#sockets.get(peerId)?.emit(event, payload));
  }

  @SubscribeMessage('p2p:join')
  join(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const { channelId } = parseInput(s.join, body);
      const { userId, expiresAt } = principalOf(socket);
      // Joined first, so that a refused join leaves the socket where it was.
      const plan = this.swarms.join(channelId, userId);
      this.#leave(socket);
      socket.data.swarmPeer = plan.peerId;
      this.#sockets.set(plan.peerId, socket);
      if (!socket.data.leavesSwarmOnDisconnect) {
        socket.data.leavesSwarmOnDisconnect = true;
        socket.once('disconnect', () => this.#leave(socket));
      }
      this.#logger.debug(`channel ${channelId}: ${plan.peerId} joined the swarm (sub-stream ${plan.substream} of ${plan.s})`);
      const encoded = encodeURIComponent(channelId);
      const ack: JoinAck = {
        ...plan,
        ...this.swarms.clientConfig,
        ...this.turn.iceServers({ userId, tokenExpiresAtMs: expiresAt }),
        blocksUrl: `/hls/${encoded}/p2p/blocks.json`,
        blockUrl: `/hls/${encoded}/p2p/blocks/{n}`,
      };
      return ack;
    });
  }

  @SubscribeMessage('p2p:leave')
  leave(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      parseInput(s.leave, body);
      this.#leave(socket);
      return {};
    });
  }

  @SubscribeMessage('p2p:swarm-signal')
  signal(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const input = parseInput(s.signal, body);
      const peerId = this.#peer(socket, input.channelId);
      if (!input.description && input.candidate === undefined) throw new ValidationError('a signal carries a description or a candidate', 'VALIDATION_FAILED');
      this.swarms.signal(peerId, input.toPeerId, { description: input.description, candidate: input.candidate });
      return {};
    });
  }

  @SubscribeMessage('p2p:stats')
  stats(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const { channelId, ...report } = parseInput(s.stats, body);
      this.swarms.report(this.#peer(socket, channelId), report);
      return {};
    });
  }

  #peer(socket: Socket, channelId: string): string {
    const peerId = socket.data.swarmPeer as string | undefined;
    if (!peerId || this.swarms.channelOf(peerId) !== channelId) throw new NotInSwarmError(`this socket has not joined the swarm of ${channelId}`);
    return peerId;
  }

  #leave(socket: Socket): void {
    const peerId = socket.data.swarmPeer as string | undefined;
    if (!peerId) return;
    socket.data.swarmPeer = undefined;
    this.#sockets.delete(peerId);
    this.swarms.leave(peerId);
  }
}
