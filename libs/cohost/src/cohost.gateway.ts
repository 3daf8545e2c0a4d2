import { Inject } from '@nestjs/common';
import { ConnectedSocket, MessageBody, OnGatewayConnection, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { parseInput } from '@gw/common';
import { UserPrincipal } from '@gw/auth';
import { NodeRpc, Presence, principalOf, respond } from '@gw/im';
import { cohostSchemas as s } from './cohost.schemas';
import { CohostService } from './cohost.service';

/** Errors that mean "not on this node": in cluster mode the request goes to the node that holds it. */
const NOT_HERE = new Set(['INVITATION_NOT_FOUND', 'CHANNEL_NOT_HOSTED']);
const notHere = (error: unknown) => NOT_HERE.has((error as { code?: string })?.code ?? '');

type Forwarded = { principal: UserPrincipal; invitationId?: string; channelId?: string; reason?: string };

/**
 * `cohost:*` events (the contract): thin; validates, calls the co-host manager,
 * acks. A guest's requests about an invitation or a channel whose host is
 * connected to another node of the cluster run on that node (NodeRpc), so
 * host and guest may be on different nodes.
 */
@WebSocketGateway()
export class CohostGateway implements OnGatewayConnection {
  constructor(
    @Inject(CohostService) private readonly cohost: CohostService,
    @Inject(Presence) presence: Presence,
    @Inject(NodeRpc) private readonly rpc: NodeRpc,
  ) {
    // Offline only when the user's last socket went (Presence asks once for every listener).
    presence.on('offline', ({ userId }) => this.cohost.userOffline(userId));
    const byInvitation = (run: (f: Forwarded & { invitationId: string }) => Promise<object> | object) => (payload: unknown) => {
      const f = payload as Forwarded;
      return typeof f?.invitationId === 'string' && this.cohost.hasInvitation(f.invitationId) ? respond(() => run(f as Forwarded & { invitationId: string })) : null;
    };
    const byChannel = (run: (f: Forwarded & { channelId: string }) => Promise<object> | object) => (payload: unknown) => {
      const f = payload as Forwarded;
      return typeof f?.channelId === 'string' && this.cohost.hostsChannel(f.channelId) ? respond(() => run(f as Forwarded & { channelId: string })) : null;
    };
    rpc.handle('cohost.accept', byInvitation((f) => this.cohost.accept(f.principal, f.invitationId)));
    rpc.handle('cohost.reject', byInvitation((f) => this.cohost.reject(f.principal, f.invitationId, f.reason)));
    rpc.handle('cohost.cancel', byInvitation((f) => this.cohost.cancel(f.principal, f.invitationId)));
    rpc.handle('cohost.apply', byChannel((f) => this.cohost.apply(f.principal, f.channelId)));
    rpc.handle('cohost.leave', byChannel((f) => this.cohost.leave(f.principal, f.channelId)));
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
    return respond(() => {
      const principal = principalOf(socket);
      const { channelId } = parseInput(s.apply, body);
      return this.rpc.here(() => this.cohost.apply(principal, channelId), notHere, 'cohost.apply', { principal, channelId });
    });
  }

  @SubscribeMessage('cohost:accept')
  accept(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const principal = principalOf(socket);
      const { invitationId } = parseInput(s.accept, body);
      return this.rpc.here(() => this.cohost.accept(principal, invitationId), notHere, 'cohost.accept', { principal, invitationId });
    });
  }

  @SubscribeMessage('cohost:reject')
  reject(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const principal = principalOf(socket);
      const { invitationId, reason } = parseInput(s.reject, body);
      return this.rpc.here(() => this.cohost.reject(principal, invitationId, reason), notHere, 'cohost.reject', { principal, invitationId, reason });
    });
  }

  @SubscribeMessage('cohost:cancel')
  cancel(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const principal = principalOf(socket);
      const { invitationId } = parseInput(s.cancel, body);
      return this.rpc.here(() => this.cohost.cancel(principal, invitationId), notHere, 'cohost.cancel', { principal, invitationId });
    });
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
    return respond(() => {
      const principal = principalOf(socket);
      const { channelId } = parseInput(s.leave, body);
      return this.rpc.here(() => this.cohost.leave(principal, channelId), notHere, 'cohost.leave', { principal, channelId });
    });
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
