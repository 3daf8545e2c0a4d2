import { Inject } from '@nestjs/common';
import { ConnectedSocket, MessageBody, OnGatewayConnection, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { parseInput } from '@gw/common';
import { Presence, principalOf, respond } from '@gw/im';
import { cohostSchemas as s } from './cohost.schemas';
import { CohostService } from './cohost.service';

/** `cohost:*` events (the contract): thin; validates, calls the co-host manager, acks. */
@WebSocketGateway()
export class CohostGateway implements OnGatewayConnection {
  constructor(
    @Inject(CohostService) private readonly cohost: CohostService,
    @Inject(Presence) presence: Presence,
  ) {
    // Offline only when the user's last socket went (Presence asks once for every listener).
    presence.on('offline', ({ userId }) => this.cohost.userOffline(userId));
  }

  handleConnection(socket: Socket): void {
    const principal = socket.data?.principal;
    if (!principal) return;
    this.cohost.hostOnline(principal);
    this.cohost.userOnline(principal.userId);
  }

  @SubscribeMessage('cohost:invite')
  invite(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const { channelId, userId, record } = parseInput(s.invite, body);
      return this.cohost.invite(principalOf(socket), channelId, userId, { record });
    });
  }

  @SubscribeMessage('cohost:apply')
  apply(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => this.cohost.apply(principalOf(socket), parseInput(s.apply, body).channelId));
  }

  @SubscribeMessage('cohost:accept')
  accept(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => this.cohost.accept(principalOf(socket), parseInput(s.accept, body).invitationId));
  }

  @SubscribeMessage('cohost:reject')
  reject(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const { invitationId, reason } = parseInput(s.reject, body);
      return this.cohost.reject(principalOf(socket), invitationId, reason);
    });
  }

  @SubscribeMessage('cohost:cancel')
  cancel(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => this.cohost.cancel(principalOf(socket), parseInput(s.cancel, body).invitationId));
  }

  @SubscribeMessage('cohost:kick')
  kick(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const { channelId, userId } = parseInput(s.kick, body);
      return this.cohost.kick(principalOf(socket), channelId, userId);
    });
  }

  @SubscribeMessage('cohost:leave')
  leave(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => this.cohost.leave(principalOf(socket), parseInput(s.leave, body).channelId));
  }

  @SubscribeMessage('cohost:end')
  end(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => this.cohost.end(principalOf(socket), parseInput(s.end, body).channelId));
  }

  @SubscribeMessage('cohost:mode')
  mode(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const input = parseInput(s.mode, body);
      return this.cohost.setMixMode(principalOf(socket), input.channelId, input.mixMode);
    });
  }
}
