import { Inject } from '@nestjs/common';
import { ConnectedSocket, MessageBody, OnGatewayConnection, SubscribeMessage, WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import type { Server, Socket } from 'socket.io';
import { parseInput } from '@gw/common';
import { principalOf, respond, userRoom } from '@gw/im';
import { pkSchemas as s } from './pk.schemas';
import { PkService } from './pk.service';

/** `pk:*` events: thin; validates, calls the PK service, acks `{ok, …}` or `{ok: false, error: {code, message}}`. */
@WebSocketGateway()
export class PkGateway implements OnGatewayConnection {
  @WebSocketServer() server!: Server;

  constructor(@Inject(PkService) private readonly pk: PkService) {}

  handleConnection(socket: Socket): void {
    const principal = socket.data?.principal;
    if (!principal) return;
    this.pk.userOnline(principal.userId);
    socket.once('disconnect', () => {
      // Offline only when this was the user's last socket.
      void this.server
        .in(userRoom(principal.userId))
        .fetchSockets()
        .then((sockets) => {
          if (sockets.length === 0) this.pk.userOffline(principal.userId);
        });
    });
  }

  @SubscribeMessage('pk:invite')
  invite(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const { channelId, targetChannelId } = parseInput(s.invite, body);
      return this.pk.invite(principalOf(socket), channelId, targetChannelId);
    });
  }

  @SubscribeMessage('pk:accept')
  accept(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => this.pk.accept(principalOf(socket), parseInput(s.accept, body).pkId));
  }

  @SubscribeMessage('pk:reject')
  reject(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const { pkId, reason } = parseInput(s.reject, body);
      return this.pk.reject(principalOf(socket), pkId, reason);
    });
  }

  @SubscribeMessage('pk:cancel')
  cancel(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => this.pk.cancel(principalOf(socket), parseInput(s.cancel, body).pkId));
  }

  @SubscribeMessage('pk:end')
  end(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => this.pk.end(principalOf(socket), parseInput(s.end, body).pkId));
  }

  @SubscribeMessage('pk:battle')
  battle(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const { pkId, durationSeconds } = parseInput(s.battle, body);
      return this.pk.battle(principalOf(socket), pkId, durationSeconds);
    });
  }
}
