import type { types } from 'mediasoup';
import { TypedEmitter, ValidationError } from '@gw/common';
import { ROUTER_MEDIA_CODECS, WorkerPool } from '@gw/sfu';
import { MediaPath, pathOfTuple, TurnClientProtocol } from '@gw/turn';
import {
  CannotConsumeError,
  ConferenceClosedError,
  MediaRequestError,
  MediaResourceNotFoundError,
  NotAMemberError,
  NotConferenceHostError,
  NotJoinedError,
  ParticipantNotFoundError,
} from './errors';
import { isScreen, MuteKind, muteKindOf, MuteTable, MuteView } from './mutes';
import { Participant, ParticipantVia } from './participant';
import { ClientReport, Quality, QUALITY_SAMPLE_MS } from './quality';

export interface RtcOptions {
  listenIp: string;
  announcedIp?: string;
  /** Cluster mode: the address other nodes reach this node's bridge PipeTransports on (default announcedIp). */
  pipeAnnouncedIp?: string;
  /**
   * Whether a remote address the SFU sees is a relay of the embedded TURN server,
   * and over what the client reached it. Unset: no embedded TURN (tuples count as direct).
   */
  relayedClientProtocol?: (ip: string, port: number) => Promise<TurnClientProtocol | undefined>;
}

export interface ConferenceEvents extends Record<string, unknown[]> {
  participantJoined: [{ userId: string; via: ParticipantVia }];
  participantLeft: [{ userId: string; reason: string }];
  /** `screen`: a screen share's producer (mutes.ts isScreen): shown as its own tile. */
  newProducer: [{ userId: string; producerId: string; kind: types.MediaKind; screen?: true }];
  /** A participant published a composed program (client-side mixing); peers and mixers do not consume it. */
  compositeProducer: [{ userId: string; producerId: string; kind: types.MediaKind }];
  producerClosed: [{ userId: string; producerId: string }];
  /** A consumer ended because its producer went away. `userId` owns the consumer. */
  consumerClosed: [{ userId: string; consumerId: string; producerId: string }];
  /** A router died with its worker; its participants were dropped and should rejoin. */
  routerLost: [{ userIds: string[]; lost: { userId: string; via: ParticipantVia }[] }];
  /** The conference has a router again after losing all of them with a worker. */
  rebuilt: [{ workerSlots: number[] }];
  closed: [{ reason: string }];
  /** Whether the two participants may send to each other directly (see p2pAllowed) changed. */
  p2pChanged: [{ allowed: boolean; userIds: string[] }];
  /** A participant's uplink quality moved by 5 points or more (quality.ts). */
  quality: [{ userId: string; quality: Quality }];
  /** A participant's audio, camera or screen share was muted or unmuted (its producers paused or resumed at the SFU). */
  muted: [{ userId: string; kind: MuteKind; muted: boolean; locked: boolean; by: 'host' | 'self' }];
  /** The host removed a participant from the conference (it is no longer a member). */
  removed: [{ userId: string; by: string }];
  /** A participant's screen share was stopped (by the host, or by the participant through the host controls). */
  shareStopped: [{ userId: string; by: string }];
  /** A participant's display name was set or changed (the mix draws it on its tile). */
  displayName: [{ userId: string; displayName: string }];
}

/** Where a conference's members are saved (the database; absent in unit tests). */
export interface MemberStore {
  addMember(conferenceId: string, userId: string): void;
  removeMember?(conferenceId: string, userId: string): void;
}

export interface ConferenceCreateOptions {
  id: string;
  title: string;
  hostUserId?: string;
  pool: WorkerPool;
  rtc: RtcOptions;
  /** When restoring: the original creation time and members. */
  createdAt?: number;
  members?: string[];
  store?: MemberStore;
  /** Cluster mode: this conference is a mirror of the one at that node (its home; conference-span.ts). */
  homeNode?: string;
}

/** The `participantLeft` reason of a participant the host removed (media:remove). */
export const REMOVED_BY_HOST = 'removed by the host';

/** A display name as shown: control characters dropped, trimmed, at most 64 characters; empty is a ValidationError. */
export function cleanDisplayName(name: string): string {
  const clean = [...name.replace(/\p{Cc}/gu, '').trim()].slice(0, 64).join('');
  if (!clean) throw new ValidationError('displayName is empty');
  return clean;
}

export interface ConferenceSnapshot {
  id: string;
  title: string;
  hostUserId?: string;
  createdAt: number;
  /** `via` is how the participant's media arrives at the gateway; a relayed one also names the conference it is relayed from. */
  /** `path` (WebRTC, once known): the ladder rung, `pathSource` who saw it (`client`: its `media:path` report; `server`: the SFU's selected ICE tuple). */
  participants: {
    userId: string;
    audio: boolean;
    video: boolean;
    screen?: true;
    via: 'webrtc' | 'rtmp';
    transcoded?: boolean;
    relayedFrom?: string;
    /** Cluster mode: the node this participant is connected to, when it is not this one. */
    node?: string;
    path?: MediaPath;
    pathSource?: 'client' | 'server';
    /** While anything of it is muted: whether its audio, camera and screen share are, and which mutes the host locked. */
    muted?: MuteView;
    muteLocked?: MuteView;
    displayName?: string;
  }[];
  members: string[];
  /** Worker slots hosting this conference's routers. */
  workerSlots: number[];
}

/**
 * A conference (会议) is a room on the SFU. It owns one router per worker it
 * spans, its participants and their media. New participants land on a router
 * whose worker has room; when none has, the conference extends to the
 * least-loaded other worker, and producers are piped across (pipeToRouter) on
 * first use. close() is idempotent and closes everything it owns.
 */
export class Conference extends TypedEmitter<ConferenceEvents> {
  readonly members = new Set<string>();
  /** Who is muted, by kind; kept across the participants' producers and rejoins (see setMuted). */
  readonly mutes = new MuteTable();
  /** Display names by user (set at join, by the participant or by the host); kept across rejoins. */
  readonly #names = new Map<string, string>();
  readonly #routers = new Map<number, types.Router>();
  readonly #participants = new Map<string, Participant>();
  /** Server-side mixes of this conference that need its participants' media (see holdServerMedia). */
  #serverMediaHolds = 0;
  #p2pAllowed = false;
  /** producerId → its owner, for lookups and for piping from the right router. */
  readonly #producers = new Map<string, { participant: Participant; producer: types.Producer }>();
  /** Transports of services (mixers), not of participants; closed with the conference. */
  readonly #serviceTransports = new Set<types.Transport>();
  /** `${fromRouterId}>${toRouterId}` → the PipeTransports relaying another conference's producers here. */
  readonly #relayPipes = new Map<string, Promise<[types.PipeTransport, types.PipeTransport]>>();
  /** `${producerId}:${routerId}` → the pipe into that router (once per pair). */
  readonly #pipes = new Map<string, Promise<void>>();
  /** Set while the conference is being moved to a healthy worker after losing its last router. */
  #rebuilding: Promise<void> | undefined;
  #closed = false;
  #qualityTimer: NodeJS.Timeout | undefined;
  #sampling = false;
  #homeNode: string | undefined;

  private constructor(
    readonly id: string,
    readonly title: string,
    readonly hostUserId: string | undefined,
    private readonly pool: WorkerPool,
    private readonly rtc: RtcOptions,
    readonly createdAt: number,
    private readonly store: MemberStore | undefined,
  ) {
    super();
    if (hostUserId) this.members.add(hostUserId);
    this.#watchQuality();
  }

  static async create(options: ConferenceCreateOptions): Promise<Conference> {
    const conference = new Conference(options.id, options.title, options.hostUserId, options.pool, options.rtc, options.createdAt ?? Date.now(), options.store);
    for (const userId of options.members ?? []) conference.members.add(userId);
    conference.#homeNode = options.homeNode;
    await conference.#addRouter(options.pool.pickWorker({ extra: 0 }));
    return conference;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get participantCount(): number {
    return this.#participants.size;
  }

  /** Cluster mode: the node whose conference this one mirrors (undefined at the conference's home). */
  get homeNode(): string | undefined {
    return this.#homeNode;
  }

  /** Participants present on this node by their own means (not brought over from another node). */
  get localParticipantCount(): number {
    return this.participants.filter((p) => p.relayOf?.node === undefined).length;
  }

  get participants(): Participant[] {
    return [...this.#participants.values()];
  }

  get routers(): types.Router[] {
    return [...this.#routers.values()];
  }

  get rtpCapabilities(): types.RtpCapabilities {
    const router = this.routers[0];
    if (router) return router.rtpCapabilities;
    throw new ConferenceClosedError(this.id);
  }

  /** Resolves once the conference has a router (at once unless it is being rebuilt after a worker died). */
  async ready(): Promise<void> {
    await this.#rebuilding;
  }

  participant(userId: string): Participant | undefined {
    return this.#participants.get(userId);
  }

  /** Makes a user a member; saved first, so a failed save (PERSISTENCE_FAILED) admits nobody. */
  admit(userId: string): void {
    this.#assertOpen();
    if (this.members.has(userId)) return;
    this.store?.addMember(this.id, userId);
    this.members.add(userId);
  }

  /**
   * Whether the participants may send their media to each other directly
   * (the connectivity ladder's first rung, docs/signalling.md): exactly two,
   * both WebRTC, and nothing on the server (a mix) needs their media. A
   * host's composed program (client-side mixing) still goes to the server.
   */
  get p2pAllowed(): boolean {
    return this.#p2pAllowed;
  }

  /**
   * A server-side mix that needs the participants' media: while one holds,
   * the conference allows no direct path (its members send to the SFU).
   * Returns the release (idempotent).
   */
  holdServerMedia(): () => void {
    this.#serverMediaHolds += 1;
    this.#p2pCheck();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#serverMediaHolds -= 1;
      this.#p2pCheck();
    };
  }

  #p2pCheck(): void {
    const present = [...this.#participants.values()];
    const allowed = !this.#closed && this.#serverMediaHolds === 0 && present.length === 2 && present.every((p) => p.via === 'webrtc');
    if (allowed === this.#p2pAllowed) return;
    this.#p2pAllowed = allowed;
    this.emit('p2pChanged', { allowed, userIds: present.map((p) => p.userId) });
  }

  isMember(userId: string): boolean {
    return this.members.has(userId);
  }

  /**
   * Places a member on a router and returns its Participant. A member who is
   * already present is replaced (a reload, a second tab, a new RTMP push).
   */
  async join(userId: string, via: ParticipantVia): Promise<Participant> {
    this.#assertOpen();
    if (!this.members.has(userId)) throw new NotAMemberError(this.id);
    if (this.#participants.has(userId)) this.leave(userId, 'replaced');
    const router = await this.#routerForNewParticipant();
    this.#assertOpen();
    const participant = new Participant(userId, via, router);
    this.#participants.set(userId, participant);
    this.emit('participantJoined', { userId, via });
    this.#p2pCheck();
    return participant;
  }

  leave(userId: string, reason: string): void {
    const participant = this.#participants.get(userId);
    if (!participant) return;
    this.#participants.delete(userId);
    for (const producerId of participant.producers.keys()) this.#producers.delete(producerId);
    participant.close();
    this.emit('participantLeft', { userId, reason });
    this.#p2pCheck();
  }

  async createWebRtcTransport(userId: string, direction: 'send' | 'recv'): Promise<types.WebRtcTransport> {
    const participant = this.#present(userId);
    const transport = await participant.router.createWebRtcTransport({
      listenIps: [{ ip: this.rtc.listenIp, announcedIp: this.rtc.announcedIp }],
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: 1_000_000,
      appData: { userId, direction },
    });
    this.#adopt(participant, transport);
    transport.on('iceselectedtuplechange', (tuple) => void this.#tupleSelected(participant, tuple));
    return transport;
  }

  /** The client's own account of its path (`media:path`). */
  reportPath(userId: string, path: MediaPath): void {
    this.#present(userId).setPath(path, 'client');
  }

  /** The SFU's view of a participant's path: the selected tuple, relayed or direct. */
  async #tupleSelected(participant: Participant, tuple: types.TransportTuple): Promise<void> {
    if (tuple.remoteIp === undefined || tuple.remotePort === undefined) return;
    const observedAt = performance.now();
    const lookup = this.rtc.relayedClientProtocol;
    const relayed = lookup ? await lookup(tuple.remoteIp, tuple.remotePort).catch(() => undefined) : undefined;
    participant.setPath(pathOfTuple({ remoteIp: tuple.remoteIp, remotePort: tuple.remotePort, protocol: tuple.protocol }, relayed), 'server', observedAt);
  }

  /** A PlainTransport for RTP from a local process (RTMP ingest, mixers). */
  async createPlainTransport(userId: string): Promise<types.PlainTransport> {
    const participant = this.#present(userId);
    const transport = await participant.router.createPlainTransport({
      listenIp: { ip: '127.0.0.1' },
      rtcpMux: false,
      comedia: true,
      appData: { userId },
    });
    this.#adopt(participant, transport);
    return transport;
  }

  async connectTransport(userId: string, transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    const transport = this.#transport(userId, transportId);
    await guardMedia(() => transport.connect({ dtlsParameters }));
  }

  /** New ICE credentials for a transport whose path broke (the client restarts its ICE with them). */
  async restartIce(userId: string, transportId: string): Promise<types.IceParameters> {
    const transport = this.#transport(userId, transportId);
    if (!('restartIce' in transport)) throw new MediaResourceNotFoundError('transport', transportId);
    return guardMedia(() => (transport as types.WebRtcTransport).restartIce());
  }

  async produce(
    userId: string,
    transportId: string,
    kind: types.MediaKind,
    rtpParameters: types.RtpParameters,
    appData: Record<string, unknown> = {},
  ): Promise<types.Producer> {
    const participant = this.#present(userId);
    const transport = this.#transport(userId, transportId);
    const producer = await guardMedia(() => transport.produce({ kind, rtpParameters, appData: { ...appData, userId } }));
    this.#register(participant, producer);
    return producer;
  }

  /**
   * Shows another conference's producer here as `userId`'s (a participant
   * joined `via: 'relay'`): piped from its router into the participant's
   * (mediasoup pipeToRouter, which carries keyframe requests back). The relay
   * ends with the source producer, or when the participant leaves here.
   * Relaying the same producer twice returns the first relay.
   */
  async relayProducer(userId: string, from: Conference, producerId: string): Promise<types.Producer> {
    const participant = this.#present(userId);
    if (participant.via !== 'relay') throw new MediaRequestError(`${userId} is not a relayed participant`);
    const already = [...participant.producers.values()].find((p) => p.appData.relayOf === producerId && !p.closed);
    if (already) return already;
    const source = from.#producers.get(producerId);
    if (!source || source.producer.closed) throw new MediaResourceNotFoundError('producer', producerId);
    const fromRouter = source.participant.router;
    const [local, remote] = await this.#relayPipe(fromRouter, participant.router);
    const pipeConsumer = await local.consume({ producerId });
    this.pool.track(fromRouter.appData.worker as types.Worker, pipeConsumer);
    let pipeProducer: types.Producer;
    try {
      // A new id: mediasoup 3.12 keys producers per worker, so the source's id cannot be reused when
      // both routers share a worker (pipeToRouter would; its keepId option came later).
      pipeProducer = await remote.produce({
        kind: pipeConsumer.kind,
        rtpParameters: pipeConsumer.rtpParameters,
        paused: pipeConsumer.producerPaused,
        appData: { ...source.producer.appData, relayOf: producerId },
      });
    } catch (error) {
      pipeConsumer.close();
      throw error;
    }
    // As pipeToRouter wires them: each end follows the other.
    pipeConsumer.observer.once('close', () => pipeProducer.close());
    pipeConsumer.observer.on('pause', () => void pipeProducer.pause().catch(() => undefined));
    pipeConsumer.observer.on('resume', () => void pipeProducer.resume().catch(() => undefined));
    pipeProducer.observer.once('close', () => pipeConsumer.close());
    this.#register(participant, pipeProducer);
    return pipeProducer;
  }

  /**
   * Cluster mode: the PipeTransport that carries this conference's media to
   * and from its copy on another node (conference-span.ts), with RTX/NACK for
   * a lossy link and SRTP, listening on the node's RTC address. Closed with
   * the conference.
   */
  async createBridgeTransport(): Promise<types.PipeTransport> {
    this.#assertOpen();
    await this.#rebuilding;
    const router = this.#leastLoadedRouter();
    const transport = await router.createPipeTransport({
      listenIp: { ip: this.rtc.listenIp, announcedIp: this.rtc.pipeAnnouncedIp ?? this.rtc.announcedIp },
      enableRtx: true,
      enableSrtp: true,
      appData: { router },
    });
    return this.#adoptServiceTransport(transport);
  }

  /** A pipe consumer of `producerId` on a bridge transport (piped across this conference's routers first when needed). */
  async consumeForBridge(transport: types.PipeTransport, producerId: string): Promise<types.Consumer> {
    this.#assertOpen();
    const source = this.#producers.get(producerId);
    if (!source || source.producer.closed) throw new MediaResourceNotFoundError('producer', producerId);
    const router = transport.appData.router as types.Router;
    await this.#ensurePiped(source, router);
    const consumer = await transport.consume({ producerId });
    this.pool.track(router.appData.worker as types.Worker, consumer);
    return consumer;
  }

  /**
   * A participant of this conference's copy on another node, shown here
   * (`via: 'relay'`, relayOf.node): its producers arrive on the bridge
   * transport of that node (produceFromNode). A user present here by their
   * own means is left alone (undefined: theirs wins).
   */
  joinFromNode(userId: string, node: string, via: 'webrtc' | 'rtmp', transport: types.PipeTransport): Participant | undefined {
    this.#assertOpen();
    const present = this.#participants.get(userId);
    if (present) return present.relayOf?.node === node ? present : undefined;
    // The conference's home checked membership; a copy learns its members from there.
    this.members.add(userId);
    const participant = new Participant(userId, 'relay', transport.appData.router as types.Router);
    participant.relayOf = { conferenceId: this.id, via, node };
    this.#participants.set(userId, participant);
    this.emit('participantJoined', { userId, via });
    this.#p2pCheck();
    return participant;
  }

  /** A producer of another node's participant, produced on the bridge transport from that node's pipe consumer. */
  async produceFromNode(
    userId: string,
    transport: types.PipeTransport,
    input: { kind: types.MediaKind; rtpParameters: types.RtpParameters; paused: boolean; appData: Record<string, unknown>; node: string },
  ): Promise<types.Producer> {
    const participant = this.#present(userId);
    if (participant.relayOf?.node !== input.node) throw new MediaRequestError(`${userId} is not a participant of node ${input.node}`);
    const producer = await guardMedia(() =>
      transport.produce({ kind: input.kind, rtpParameters: input.rtpParameters, paused: input.paused, appData: { ...input.appData, userId, fromNode: input.node } }),
    );
    this.#register(participant, producer);
    return producer;
  }

  /**
   * The pair of connected PipeTransports carrying relayed media from a router
   * of another conference into one of ours, made once per pair and closed
   * with this conference (or with either router).
   */
  #relayPipe(from: types.Router, to: types.Router): Promise<[types.PipeTransport, types.PipeTransport]> {
    const key = `${from.id}>${to.id}`;
    let pair = this.#relayPipes.get(key);
    if (!pair) {
      pair = (async (): Promise<[types.PipeTransport, types.PipeTransport]> => {
        const [local, remote] = await Promise.all([from.createPipeTransport({ listenIp: '127.0.0.1' }), to.createPipeTransport({ listenIp: '127.0.0.1' })]);
        try {
          await Promise.all([
            local.connect({ ip: remote.tuple.localIp, port: remote.tuple.localPort }),
            remote.connect({ ip: local.tuple.localIp, port: local.tuple.localPort }),
          ]);
        } catch (error) {
          local.close();
          remote.close();
          throw error;
        }
        const forget = () => {
          if (this.#relayPipes.get(key) === pair) this.#relayPipes.delete(key);
          local.close();
          remote.close();
        };
        local.observer.once('close', forget);
        remote.observer.once('close', forget);
        if (this.#closed) forget();
        return [local, remote];
      })();
      this.#relayPipes.set(key, pair);
      pair.catch(() => this.#relayPipes.delete(key));
    }
    return pair;
  }

  /** A new producer of a present participant: tracked, looked up, announced, and forgotten when it closes. */
  #register(participant: Participant, producer: types.Producer): void {
    if (participant.closed || this.#closed) {
      producer.close();
      throw new NotJoinedError();
    }
    const { userId } = participant;
    // A muted participant's new producer (a camera turned on again, a republish after a rejoin) starts
    // paused: the mute outlives the producers it was applied to.
    if (producer.appData.relayOf === undefined && producer.appData.fromNode === undefined && this.mutes.isMuted(userId, muteKindOf(producer))) void producer.pause().catch(() => undefined);
    this.pool.track(participant.router.appData.worker as types.Worker, producer);
    participant.producers.set(producer.id, producer);
    this.#producers.set(producer.id, { participant, producer });
    producer.observer.once('close', () => {
      participant.producers.delete(producer.id);
      if (this.#producers.get(producer.id)?.producer === producer) this.#producers.delete(producer.id);
      if (!this.#closed) this.emit('producerClosed', { userId, producerId: producer.id });
    });
    if (producer.appData.composite === true) this.emit('compositeProducer', { userId, producerId: producer.id, kind: producer.kind });
    else this.emit('newProducer', { userId, producerId: producer.id, kind: producer.kind, ...(isScreen(producer.appData) ? { screen: true as const } : {}) });
  }

  /**
   * Mutes or unmutes a participant's audio, camera or screen share for
   * everyone: its producers of that kind are paused (or resumed) at the SFU,
   * so no peer and no mix receives them; a mix shows the participant's
   * placeholder, or hears silence. The host may mute anyone, and `locked`
   * keeps the participant from unmuting itself (MUTE_LOCKED); a participant
   * may mute and unmute only itself. See mutes.ts.
   */
  async setMuted(actorUserId: string, userId: string, kind: MuteKind, muted: boolean, locked = false): Promise<{ muted: boolean; locked: boolean }> {
    this.#assertOpen();
    const host = this.#hostOrSelf(actorUserId, userId);
    const participant = this.#participants.get(userId);
    if (!participant) throw new ParticipantNotFoundError(this.id, userId);
    const changed = this.mutes.set(userId, kind, muted, { host, locked });
    const state = this.mutes.get(userId, kind);
    const producers = [...participant.producers.values()].filter((p) => !p.closed && p.appData.composite !== true && muteKindOf(p) === kind);
    // Applied even when the table did not change: a producer that missed it (created mid-call) is brought in line.
    await Promise.all(producers.map((p) => (state.muted ? p.pause() : p.resume()).catch(() => undefined)));
    if (changed && !this.#closed) this.emit('muted', { userId, kind, muted: changed.muted, locked: changed.locked, by: changed.by });
    return { muted: state.muted, locked: state.locked };
  }

  /**
   * Host controls: removes a participant (or a member not present) from the
   * conference. Its media ends at once and it is no longer a member, so it
   * cannot join again unless the host admits it again. The host cannot remove itself.
   */
  removeParticipant(actorUserId: string, userId: string): void {
    this.#assertOpen();
    if (!this.#isHost(actorUserId)) throw new NotConferenceHostError(this.id);
    if (userId === this.hostUserId) throw new ValidationError('the host cannot remove itself', 'CANNOT_REMOVE_HOST');
    if (!this.#participants.has(userId) && !this.members.has(userId)) throw new ParticipantNotFoundError(this.id, userId);
    this.store?.removeMember?.(this.id, userId);
    this.members.delete(userId);
    this.leave(userId, REMOVED_BY_HOST);
    this.emit('removed', { userId, by: actorUserId });
  }

  /**
   * Ends a participant's screen share: the host anyone's, a participant its
   * own. Its screen producers close (everyone and every mix drop the tile); an
   * RTMP participant that sends nothing but a screen (a presentation PC) leaves.
   */
  stopScreenShare(actorUserId: string, userId: string): void {
    this.#assertOpen();
    this.#hostOrSelf(actorUserId, userId);
    const participant = this.#participants.get(userId);
    if (!participant) throw new ParticipantNotFoundError(this.id, userId);
    const screens = [...participant.producers.values()].filter((p) => !p.closed && isScreen(p.appData));
    if (!screens.length) return;
    if (participant.via === 'rtmp' && screens.length === participant.producers.size) this.leave(userId, 'screen share stopped');
    else for (const producer of screens) producer.close();
    this.emit('shareStopped', { userId, by: actorUserId });
  }

  #isHost(userId: string): boolean {
    return this.hostUserId !== undefined && userId === this.hostUserId;
  }

  /** Host controls' rule: the host acts on anyone, anyone else only on itself (NOT_CONFERENCE_HOST). True for the host. */
  #hostOrSelf(actorUserId: string, userId: string): boolean {
    const host = this.#isHost(actorUserId);
    if (!host && actorUserId !== userId) throw new NotConferenceHostError(this.id);
    return host;
  }

  displayName(userId: string): string | undefined {
    return this.#names.get(userId);
  }

  /**
   * Sets `userId`'s display name, drawn on its tile by the mix: the host may
   * name anyone in the conference, a participant only itself. Control
   * characters are dropped; the name is trimmed (1–64 characters, any script).
   */
  setDisplayName(actorUserId: string, userId: string, name: string): string {
    this.#assertOpen();
    this.#hostOrSelf(actorUserId, userId);
    if (!this.#participants.has(userId) && !this.members.has(userId)) throw new ParticipantNotFoundError(this.id, userId);
    const clean = cleanDisplayName(name);
    if (this.#names.get(userId) !== clean) {
      this.#names.set(userId, clean);
      this.emit('displayName', { userId, displayName: clean });
    }
    return clean;
  }

  closeProducer(userId: string, producerId: string): void {
    const producer = this.#present(userId).producers.get(producerId);
    if (!producer) throw new MediaResourceNotFoundError('producer', producerId);
    producer.close();
  }

  /**
   * Creates a paused consumer of `producerId` on the participant's receive
   * transport (or the given one). The client resumes it once its track is set up,
   * which also makes mediasoup ask the producer for a keyframe.
   */
  async consume(
    userId: string,
    producerId: string,
    rtpCapabilities: types.RtpCapabilities,
    transportId?: string,
  ): Promise<types.Consumer> {
    const participant = this.#present(userId);
    const source = this.#producers.get(producerId);
    if (!source) throw new MediaResourceNotFoundError('producer', producerId);
    // All routers share one codec set, so the source router answers for every one;
    // checking first means a bad request costs no pipe.
    if (!source.participant.router.canConsume({ producerId, rtpCapabilities })) throw new CannotConsumeError(producerId);
    await this.#ensurePiped(source, participant.router);
    const transport = transportId
      ? this.#transport(userId, transportId)
      : [...participant.transports.values()].find((t) => t.appData.direction === 'recv');
    if (!transport) throw new MediaResourceNotFoundError('transport', transportId ?? 'recv');
    const consumer = await guardMedia(() =>
      transport.consume({ producerId, rtpCapabilities, paused: true, appData: { userId, producerUserId: source.participant.userId } }),
    );
    this.pool.track(participant.router.appData.worker as types.Worker, consumer);
    participant.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => participant.consumers.delete(consumer.id));
    consumer.on('producerclose', () => {
      consumer.close();
      if (!this.#closed) this.emit('consumerClosed', { userId, consumerId: consumer.id, producerId });
    });
    return consumer;
  }

  async resumeConsumer(userId: string, consumerId: string): Promise<void> {
    const consumer = this.#present(userId).consumers.get(consumerId);
    if (!consumer) throw new MediaResourceNotFoundError('consumer', consumerId);
    await consumer.resume();
  }

  /**
   * A PlainTransport for a service that consumes the conference (a mix task),
   * on the conference router with the most room. It sends RTP to a local port
   * the caller chose (`connect` mode: no comedia).
   */
  async createServiceTransport(remotePort: number, remoteRtcpPort: number): Promise<types.PlainTransport> {
    this.#assertOpen();
    await this.#rebuilding;
    const router = this.#leastLoadedRouter();
    const transport = await router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: false, comedia: false, appData: { router } });
    await transport.connect({ ip: '127.0.0.1', port: remotePort, rtcpPort: remoteRtcpPort });
    return this.#adoptServiceTransport(transport);
  }

  /** A paused consumer of `producerId` on a service transport (piped across routers when needed). */
  async consumeForService(transport: types.Transport, producerId: string): Promise<types.Consumer> {
    this.#assertOpen();
    const source = this.#producers.get(producerId);
    if (!source) throw new MediaResourceNotFoundError('producer', producerId);
    const router = transport.appData.router as types.Router;
    await this.#ensurePiped(source, router);
    const consumer = await transport.consume({ producerId, rtpCapabilities: router.rtpCapabilities, paused: true });
    this.pool.track(router.appData.worker as types.Worker, consumer);
    consumer.on('producerclose', () => consumer.close());
    return consumer;
  }

  /**
   * A video producer's layers as the sender described them: each encoding's
   * scaleResolutionDownBy (spatial-layer order) and the track's size from its
   * appData (the web client sends it). What a mix picks a cell's layer by.
   */
  videoSource(producerId: string): { width?: number; height?: number; scales: number[] } | undefined {
    const producer = this.#producers.get(producerId)?.producer;
    if (!producer || producer.kind !== 'video') return undefined;
    const size = (v: unknown) => (typeof v === 'number' && v > 0 && v <= 16384 ? v : undefined);
    return {
      width: size(producer.appData.width),
      height: size(producer.appData.height),
      scales: (producer.rtpParameters.encodings ?? []).map((e) => e.scaleResolutionDownBy ?? 1),
    };
  }

  /** The user whose producer this is. */
  ownerOf(producerId: string): string | undefined {
    return this.#producers.get(producerId)?.participant.userId;
  }

  /** Producers other than the given user's, for a newcomer to consume. */
  /** Everyone's producers but `userId`'s (not composed programs); `screen`: a screen share's (mutes.ts isScreen). */
  producersExcept(userId: string): { userId: string; producerId: string; kind: types.MediaKind; screen?: true }[] {
    return [...this.#producers.values()]
      .filter(({ participant, producer }) => participant.userId !== userId && !producer.closed && producer.appData.composite !== true)
      .map(({ participant, producer }) => ({ userId: participant.userId, producerId: producer.id, kind: producer.kind, ...(isScreen(producer.appData) ? { screen: true as const } : {}) }));
  }

  /** True for a producer fed by the gateway's RTMP ingest (its ffmpeg starts each stream with a keyframe). */
  fromIngest(producerId: string): boolean {
    return this.#producers.get(producerId)?.producer.appData.source === 'rtmp';
  }

  /** The composed program a participant publishes for client-side mixing, by kind. */
  compositeOf(userId: string): { audio?: string; video?: string } {
    const out: { audio?: string; video?: string } = {};
    for (const { participant, producer } of this.#producers.values()) {
      if (participant.userId === userId && !producer.closed && producer.appData.composite === true) out[producer.kind] = producer.id;
    }
    return out;
  }

  /**
   * Called when a worker died: its router is gone, so are the participants on
   * it (they are told to rejoin). A conference left with no router is rebuilt
   * at once on a healthy worker, or on the replacement when there is none, so
   * rejoining participants and its mix tasks find it where it was.
   */
  onWorkerDied(worker: types.Worker): void {
    for (const [slot, router] of this.#routers) {
      if (router.appData.worker !== worker) continue;
      this.#routers.delete(slot);
      const lost = this.participants.filter((p) => p.router === router).map((p) => ({ userId: p.userId, via: p.via }));
      for (const { userId } of lost) this.leave(userId, 'worker died');
      for (const key of [...this.#pipes.keys()]) if (key.endsWith(`:${router.id}`)) this.#pipes.delete(key);
      if (this.#routers.size === 0 && !this.#closed) this.#rebuild(worker);
      if (lost.length) this.emit('routerLost', { userIds: lost.map((p) => p.userId), lost });
    }
  }

  #rebuild(deadWorker: types.Worker): void {
    const attempt = async (): Promise<void> => {
      for (let delayMs = 100; ; delayMs = Math.min(delayMs * 2, 2000)) {
        if (this.#closed) return;
        const healthy = this.pool.workers.find((w) => w !== deadWorker && !w.closed);
        if (healthy) {
          const router = await this.#addRouter(healthy);
          if (this.#closed) {
            router.close();
            this.#routers.clear();
            return;
          }
          this.emit('rebuilt', { workerSlots: [...this.#routers.keys()] });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    };
    const rebuilding = attempt().finally(() => {
      if (this.#rebuilding === rebuilding) this.#rebuilding = undefined;
    });
    rebuilding.catch(() => undefined);
    this.#rebuilding = rebuilding;
  }

  snapshot(): ConferenceSnapshot {
    return {
      id: this.id,
      title: this.title,
      hostUserId: this.hostUserId,
      createdAt: this.createdAt,
      participants: this.participants.map((p) => ({
        userId: p.userId,
        audio: p.hasKind('audio'),
        video: p.hasKind('video'),
        // Extensions, present only when they say something (views are compared whole by some clients):
        // sharing a screen now (a video producer of kind screen; mutes.ts isScreen), and any mutes.
        ...([...p.producers.values()].some((x) => !x.closed && x.kind === 'video' && isScreen(x.appData)) ? { screen: true } : {}),
        // The contract's two values: a relayed participant is shown by how it reached its own conference.
        via: p.via === 'relay' ? (p.relayOf?.via ?? 'webrtc') : p.via,
        ...(p.via === 'rtmp' && p.transcoded !== undefined ? { transcoded: p.transcoded } : {}),
        ...(p.relayOf?.node ? { node: p.relayOf.node } : p.relayOf ? { relayedFrom: p.relayOf.conferenceId } : {}),
        ...(p.path ? { path: p.path.path, pathSource: p.path.source } : {}),
        ...(p.quality.current ? { quality: p.quality.current } : {}),
        ...(this.mutes.has(p.userId) ? this.mutes.view(p.userId) : {}),
        ...(this.#names.has(p.userId) ? { displayName: this.#names.get(p.userId) } : {}),
      })),
      members: [...this.members],
      workerSlots: [...this.#routers.keys()],
    };
  }

  /** Transports, producers and consumers alive on this conference's routers, from mediasoup's own dumps. */
  async mediaDump(): Promise<{ slot: number; transports: number; producers: number; consumers: number }[]> {
    return Promise.all(
      [...this.#routers].map(async ([slot, router]) => {
        const dump = await router.dump();
        return {
          slot,
          transports: dump.transportIds.length,
          producers: Object.keys(dump.mapProducerIdConsumerIds).length,
          consumers: Object.keys(dump.mapConsumerIdProducerId).length,
        };
      }),
    );
  }

  /**
   * Samples every participant's producers (the ones it sends: not relayed,
   * not a composed program) for its quality score, every QUALITY_SAMPLE_MS
   * while the conference is open; a score that moved is emitted (`quality`).
   */
  #watchQuality(): void {
    if (this.#qualityTimer) return;
    this.#qualityTimer = setInterval(() => void this.#sampleQuality(), QUALITY_SAMPLE_MS);
    this.#qualityTimer.unref();
  }

  async #sampleQuality(): Promise<void> {
    if (this.#sampling || this.#closed) return;
    this.#sampling = true;
    try {
      for (const participant of this.#participants.values()) {
        if (participant.via === 'relay' || participant.closed) continue;
        const producers = [...participant.producers.values()].filter((p) => !p.closed && p.appData.composite !== true && p.appData.relayOf === undefined);
        if (!producers.length) continue;
        const counters = { packets: 0, lost: 0, bitrate: 0, jitterMs: 0 };
        for (const producer of producers) {
          const clockRate = producer.rtpParameters.codecs[0]?.clockRate ?? 90000;
          for (const s of await producer.getStats().catch(() => [])) {
            counters.packets += s.packetCount;
            counters.lost += s.packetsLost;
            counters.bitrate += s.bitrate;
            counters.jitterMs = Math.max(counters.jitterMs, (s.jitter / clockRate) * 1000);
          }
        }
        const changed = participant.quality.sample(counters);
        if (changed && !this.#closed && !participant.closed) this.emit('quality', { userId: participant.userId, quality: changed });
      }
    } finally {
      this.#sampling = false;
    }
  }

  /** A client's account of its own uplink (`media:stats`), folded into its quality score. */
  reportStats(userId: string, report: ClientReport): void {
    this.#present(userId).quality.client = report;
  }

  close(reason: string): void {
    if (this.#closed) return;
    clearInterval(this.#qualityTimer);
    for (const userId of [...this.#participants.keys()]) this.leave(userId, reason);
    this.#closed = true;
    for (const transport of [...this.#serviceTransports]) transport.close();
    for (const router of this.#routers.values()) router.close();
    this.#routers.clear();
    this.#pipes.clear();
    // Their ends on other conferences' routers go too.
    for (const pair of this.#relayPipes.values()) void pair.then(([local, remote]) => (local.close(), remote.close())).catch(() => undefined);
    this.#relayPipes.clear();
    this.emit('closed', { reason });
  }

  #assertOpen(): void {
    if (this.#closed) throw new ConferenceClosedError(this.id);
  }

  #present(userId: string): Participant {
    this.#assertOpen();
    const participant = this.#participants.get(userId);
    if (!participant) throw new NotJoinedError();
    return participant;
  }

  #transport(userId: string, transportId: string): types.Transport {
    const transport = this.#present(userId).transports.get(transportId);
    if (!transport) throw new MediaResourceNotFoundError('transport', transportId);
    return transport;
  }

  /** A transport of a service (a mixer, a bridge to another node): closed with the conference, or at once when it closed meanwhile. */
  #adoptServiceTransport<T extends types.Transport>(transport: T): T {
    this.#serviceTransports.add(transport);
    transport.observer.once('close', () => this.#serviceTransports.delete(transport));
    if (this.#closed) transport.close();
    return transport;
  }

  #adopt(participant: Participant, transport: types.Transport): void {
    if (participant.closed) {
      transport.close();
      throw new NotJoinedError();
    }
    participant.transports.set(transport.id, transport);
    transport.observer.once('close', () => participant.transports.delete(transport.id));
  }

  #leastLoadedRouter(): types.Router {
    let best: { router: types.Router; load: number } | undefined;
    for (const router of this.#routers.values()) {
      const slot = this.pool.slotOf(router.appData.worker as types.Worker);
      const load = slot ? slot.load / slot.weight : Infinity;
      if (!best || load < best.load) best = { router, load };
    }
    if (!best) throw new ConferenceClosedError(this.id);
    return best.router;
  }

  async #addRouter(worker: types.Worker): Promise<types.Router> {
    const router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS, appData: { worker, conferenceId: this.id } });
    const slot = this.pool.slotOf(worker)!.index;
    this.#routers.set(slot, router);
    return router;
  }

  /**
   * Placement: a router of this conference whose worker has room (the least
   * loaded such), else a new router on the least-loaded worker not yet used,
   * else SFU_CAPACITY.
   */
  async #routerForNewParticipant(): Promise<types.Router> {
    await this.#rebuilding;
    let best: { router: types.Router; load: number } | undefined;
    for (const router of this.#routers.values()) {
      const worker = router.appData.worker as types.Worker;
      const slot = this.pool.slotOf(worker);
      if (!slot || !this.pool.hasRoom(worker)) continue;
      const relative = slot.load / slot.weight;
      if (!best || relative < best.load) best = { router, load: relative };
    }
    if (best) return best.router;
    const worker = this.pool.pickWorker({ excludeSlots: new Set(this.#routers.keys()) });
    return this.#addRouter(worker);
  }

  /** Pipes a producer into `target` once; later consumers there reuse the pipe. */
  async #ensurePiped(source: { participant: Participant; producer: types.Producer }, target: types.Router): Promise<void> {
    const from = source.participant.router;
    if (from === target) return;
    const key = `${source.producer.id}:${target.id}`;
    let pipe = this.#pipes.get(key);
    if (!pipe) {
      pipe = from.pipeToRouter({ producerId: source.producer.id, router: target, listenIp: '127.0.0.1' }).then(({ pipeConsumer, pipeProducer }) => {
        if (pipeConsumer) this.pool.track(from.appData.worker as types.Worker, pipeConsumer);
        if (pipeProducer) this.pool.track(target.appData.worker as types.Worker, pipeProducer);
      });
      this.#pipes.set(key, pipe);
      pipe.catch(() => this.#pipes.delete(key));
    }
    await pipe;
  }
}

/** mediasoup rejects bad client parameters with TypeError/Error; report them as the client's fault. */
async function guardMedia<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof Error && (error.name === 'TypeError' || error.name === 'Error' || error.name === 'UnsupportedError')) {
      throw new MediaRequestError(error.message);
    }
    throw error;
  }
}
