import { Inject, Logger } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { types } from 'mediasoup';
import type { Socket } from 'socket.io';
import { parseInput } from '@gw/common';
import { conferenceRoom, Notifier, principalOf, respond } from '@gw/im';
import { TurnService } from '@gw/turn';
import { cleanDisplayName, Conference } from './conference';
import { ConferenceSpans, HostControl } from './conference-span';
import { ConferenceService } from './conference.service';
import { NotJoinedError, P2pNotAllowedError } from './errors';
import { mediaSchemas as s } from './media.schemas';
import { Participant } from './participant';

interface SocketMedia {
  conference: Conference;
  participant: Participant;
}

/**
 * WebRTC signalling for mediasoup-client over socket.io (`media:*`, see
 * docs/signalling.md). Thin: it validates, calls the conference, and acks.
 * A socket is in at most one conference; disconnecting leaves it.
 */
@WebSocketGateway()
export class MediaGateway {
  readonly #logger = new Logger('Media');

  constructor(
    @Inject(ConferenceService) private readonly conferences: ConferenceService,
    @Inject(Notifier) private readonly notifier: Notifier,
    @Inject(TurnService) private readonly turn: TurnService,
    @Inject(ConferenceSpans) private readonly spans: ConferenceSpans,
  ) {
    conferences.on('created', (conference) => this.#relay(conference));
  }

  @SubscribeMessage('media:join')
  join(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(async () => {
      const { conferenceId, displayName: asked } = parseInput(s.join, body);
      // Checked before joining: a join that failed after it would leave a participant no socket owns.
      const displayName = asked === undefined ? undefined : cleanDisplayName(asked);
      const { userId, expiresAt } = principalOf(socket);
      // In a cluster the conference may live on another node: joined here, on this node's copy of it.
      const conference = await this.conferences.obtain(conferenceId, userId);
      this.#leave(socket, 'switched conference');
      const participant = await conference.join(userId, 'webrtc');
      if (displayName) conference.setDisplayName(userId, userId, displayName);
      socket.data.media = { conference, participant } satisfies SocketMedia;
      await socket.join(conferenceRoom(conference.id));
      // Once per socket, however often it joins (a listener per join would pile up).
      if (!socket.data.leavesOnDisconnect) {
        socket.data.leavesOnDisconnect = true;
        socket.once('disconnect', () => this.#leave(socket, 'disconnected'));
      }
      return {
        conferenceId: conference.id,
        userId,
        rtpCapabilities: conference.rtpCapabilities,
        participants: conference.snapshot().participants,
        producers: conference.producersExcept(userId),
        // STUN/TURN for this socket's transports, as GET /ice-servers gives them.
        ...this.turn.iceServers({ userId, tokenExpiresAtMs: expiresAt }),
        // Whether to try a direct path to the other participant first (p2p:*), and for how long.
        p2p: { allowed: conference.p2pAllowed, timeoutMs: this.turn.p2pTimeoutMs },
      };
    });
  }

  @SubscribeMessage('media:createTransport')
  createTransport(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(async () => {
      const { direction } = parseInput(s.createTransport, body);
      const { conference, participant } = this.#media(socket);
      const transport = await conference.createWebRtcTransport(participant.userId, direction);
      return {
        id: transport.id,
        iceParameters: transport.iceParameters,
        iceCandidates: transport.iceCandidates,
        dtlsParameters: transport.dtlsParameters,
      };
    });
  }

  @SubscribeMessage('media:connectTransport')
  connectTransport(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(async () => {
      const input = parseInput(s.connectTransport, body);
      const { conference, participant } = this.#media(socket);
      await conference.connectTransport(participant.userId, input.transportId, input.dtlsParameters as unknown as types.DtlsParameters);
      return {};
    });
  }

  @SubscribeMessage('media:restartIce')
  restartIce(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(async () => {
      const { transportId } = parseInput(s.restartIce, body);
      const { conference, participant } = this.#media(socket);
      return { iceParameters: await conference.restartIce(participant.userId, transportId) };
    });
  }

  @SubscribeMessage('media:produce')
  produce(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(async () => {
      const input = parseInput(s.produce, body);
      const { conference, participant } = this.#media(socket);
      const producer = await conference.produce(
        participant.userId,
        input.transportId,
        input.kind,
        input.rtpParameters as unknown as types.RtpParameters,
        input.appData,
      );
      return { producerId: producer.id };
    });
  }

  @SubscribeMessage('media:consume')
  consume(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(async () => {
      const input = parseInput(s.consume, body);
      const { conference, participant } = this.#media(socket);
      const consumer = await conference.consume(participant.userId, input.producerId, input.rtpCapabilities as unknown as types.RtpCapabilities);
      return {
        consumerId: consumer.id,
        producerId: consumer.producerId,
        kind: consumer.kind,
        rtpParameters: consumer.rtpParameters,
        userId: consumer.appData.producerUserId,
      };
    });
  }

  @SubscribeMessage('media:resumeConsumer')
  resumeConsumer(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(async () => {
      const { consumerId } = parseInput(s.resumeConsumer, body);
      const { conference, participant } = this.#media(socket);
      await conference.resumeConsumer(participant.userId, consumerId);
      return {};
    });
  }

  @SubscribeMessage('media:closeProducer')
  closeProducer(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const { producerId } = parseInput(s.closeProducer, body);
      const { conference, participant } = this.#media(socket);
      conference.closeProducer(participant.userId, producerId);
      return {};
    });
  }

  /** The client's selected candidate pair, as a ladder rung (shown as the participant's `path`). */
  @SubscribeMessage('media:path')
  path(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const input = parseInput(s.path, body);
      const { conference, participant } = this.#media(socket);
      if (conference.id !== input.conferenceId) throw new NotJoinedError();
      conference.reportPath(participant.userId, input.path);
      return {};
    });
  }

  /** The client's account of its own uplink (RTT, available bitrate, frame rate), folded into its quality score. */
  @SubscribeMessage('media:stats')
  stats(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const { conferenceId, ...report } = parseInput(s.stats, body);
      const { conference, participant } = this.#media(socket);
      if (conference.id !== conferenceId) throw new NotJoinedError();
      conference.reportStats(participant.userId, report);
      return {};
    });
  }

  /**
   * The direct path's signalling (`p2p:signal`): an SDP offer or answer, or an
   * ICE candidate, for the conference's other participant, passed on to them
   * as `p2p:signal {conferenceId, fromUserId, …}`. Only while the conference
   * allows a direct path (P2P_NOT_ALLOWED otherwise).
   */
  @SubscribeMessage('p2p:signal')
  p2pSignal(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const input = parseInput(s.p2pSignal, body);
      const { conference, participant } = this.#media(socket);
      if (conference.id !== input.conferenceId) throw new NotJoinedError();
      if (!conference.p2pAllowed) throw new P2pNotAllowedError('this conference needs everyone on the SFU now');
      const peer = conference.participant(input.toUserId);
      if (!peer || peer.userId === participant.userId) throw new P2pNotAllowedError(`${input.toUserId} is not the other participant`);
      this.notifier.toUser(peer.userId, 'p2p:signal', { conferenceId: conference.id, fromUserId: participant.userId, description: input.description, candidate: input.candidate });
      return {};
    });
  }

  /**
   * Host controls (`media:mute` / `media:unmute {conferenceId, userId, kind}`):
   * the conference's host mutes anyone's audio, camera or screen share for
   * everyone, `locked` keeping them from unmuting themselves; a participant
   * mutes and unmutes only itself. The host need not have joined the media.
   * Everyone in the conference is told (`media:muted`).
   */
  @SubscribeMessage('media:mute')
  mute(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(async () => {
      const input = parseInput(s.mute, body);
      const state = await this.#control(input.conferenceId, { op: 'mute', actorUserId: principalOf(socket).userId, userId: input.userId, kind: input.kind, locked: input.locked === true });
      return { userId: input.userId, kind: input.kind, ...state };
    });
  }

  /** Host controls: removes a participant from the conference (`media:remove`); it is told (`media:removed`). */
  @SubscribeMessage('media:remove')
  remove(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(async () => {
      const input = parseInput(s.remove, body);
      await this.#control(input.conferenceId, { op: 'remove', actorUserId: principalOf(socket).userId, userId: input.userId });
      return { userId: input.userId };
    });
  }

  /** Host controls: ends someone's screen share (`media:stopShare`); they are told (`media:shareStopped`). */
  @SubscribeMessage('media:stopShare')
  stopShare(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(async () => {
      const input = parseInput(s.stopShare, body);
      await this.#control(input.conferenceId, { op: 'stopShare', actorUserId: principalOf(socket).userId, userId: input.userId });
      return { userId: input.userId };
    });
  }

  /** A display name for the mix's tiles: the host names anyone, a participant itself (`media:setName`). */
  @SubscribeMessage('media:setName')
  setName(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      const input = parseInput(s.setName, body);
      const displayName = this.conferences.get(input.conferenceId).setDisplayName(principalOf(socket).userId, input.userId, input.displayName);
      return { userId: input.userId, displayName };
    });
  }

  @SubscribeMessage('media:unmute')
  unmute(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(async () => {
      const input = parseInput(s.unmute, body);
      const state = await this.#control(input.conferenceId, { op: 'unmute', actorUserId: principalOf(socket).userId, userId: input.userId, kind: input.kind });
      return { userId: input.userId, kind: input.kind, ...state };
    });
  }

  @SubscribeMessage('media:leave')
  leave(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return respond(() => {
      parseInput(s.leave, body ?? undefined);
      this.#leave(socket, 'left');
      return {};
    });
  }

  /** A host control on this node's conference; a participant on another node is acted on there too (cluster mode). */
  #control(conferenceId: string, control: HostControl) {
    return this.spans.control(this.conferences.get(conferenceId), control);
  }

  /** The socket's conference membership, if it is still the live one. */
  #media(socket: Socket): SocketMedia {
    const media = socket.data.media as SocketMedia | undefined;
    if (!media || media.conference.closed || media.conference.participant(media.participant.userId) !== media.participant) {
      throw new NotJoinedError();
    }
    return media;
  }

  #leave(socket: Socket, reason: string): void {
    const media = socket.data.media as SocketMedia | undefined;
    if (!media) return;
    socket.data.media = undefined;
    void socket.leave(conferenceRoom(media.conference.id));
    // Only if this socket's participant is still the current one (not replaced by a new tab).
    if (media.conference.participant(media.participant.userId) === media.participant) {
      media.conference.leave(media.participant.userId, reason);
    }
  }

  /** Forwards a conference's events to its room's sockets on this node (they know this node's producer ids). */
  #relay(conference: Conference): void {
    const room = conferenceRoom(conference.id);
    const conferenceId = conference.id;
    conference.on('participantJoined', (e) => this.notifier.toLocalRoom(room, 'media:participantJoined', { conferenceId, ...e }));
    conference.on('participantLeft', (e) => this.notifier.toLocalRoom(room, 'media:participantLeft', { conferenceId, ...e }));
    conference.on('newProducer', (e) => this.notifier.toLocalRoom(room, 'media:newProducer', { conferenceId, ...e }));
    conference.on('producerClosed', (e) => this.notifier.toLocalRoom(room, 'media:producerClosed', { conferenceId, ...e }));
    conference.on('muted', (e) => {
      this.notifier.toLocalRoom(room, 'media:muted', { conferenceId, ...e });
      // The host's page and an RTMP participant's may not be in the room (they did not join the media).
      for (const userId of new Set([conference.hostUserId, e.userId])) {
        if (userId && conference.participant(userId)?.via !== 'webrtc') this.notifier.toUser(userId, 'media:muted', { conferenceId, ...e });
      }
    });
    // The removed user is no longer in the room's sockets' conference: told directly too.
    conference.on('removed', (e) => {
      // Out of the conference's room first: a removed user hears nothing more of it.
      this.notifier.leaveRoom(e.userId, room);
      this.notifier.toLocalRoom(room, 'media:removed', { conferenceId, ...e });
      this.notifier.toUser(e.userId, 'media:removed', { conferenceId, ...e });
    });
    conference.on('shareStopped', (e) => this.notifier.toLocalRoom(room, 'media:shareStopped', { conferenceId, ...e }));
    conference.on('displayName', (e) => this.notifier.toLocalRoom(room, 'media:displayName', { conferenceId, ...e }));
    conference.on('consumerClosed', (e) => this.notifier.toUser(e.userId, 'media:consumerClosed', { conferenceId, ...e }));
    // Everyone's network, for the conference's host (seed 000's quality score).
    conference.on('quality', (e) => conference.hostUserId && this.notifier.toUser(conference.hostUserId, 'media:quality', { conferenceId, ...e }));
    conference.on('routerLost', ({ lost }) => {
      const webrtc = lost.filter((p) => p.via === 'webrtc');
      this.#logger.warn(`conference ${conferenceId}: router lost with its worker; ${webrtc.length} WebRTC participants asked to rejoin`);
      for (const { userId } of webrtc) this.notifier.toUser(userId, 'media:rejoin', { conferenceId, reason: 'worker died' });
    });
    conference.once('closed', ({ reason }) => this.notifier.toLocalRoom(room, 'media:conferenceEnded', { conferenceId, reason }));
    conference.on('p2pChanged', ({ allowed, userIds }) => this.notifier.toLocalRoom(room, 'p2p:allowed', { conferenceId, allowed, userIds }));
  }
}
