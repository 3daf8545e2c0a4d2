import { Inject } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { parseInput } from '@gw/common';
import { Presence, principalOf, respond } from '@gw/im';
import { pkSchemas as s } from './pk.schemas';
import { PkService } from './pk.service';

/** `pk:*` events: thin; validates, calls the PK service, acks `{ok, …}` or `{ok: false, error: {code, message}}`. */
@WebSocketGateway()
export class PkGateway {
  constructor(
    @Inject(PkService) private readonly pk: PkService,
    @Inject(Presence) presence: Presence,
  ) {
    presence.on('online', ({ userId }) => this.pk.userOnline(userId));
    presence.on('offline', ({ userId }) => this.pk.userOffline(userId));
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
