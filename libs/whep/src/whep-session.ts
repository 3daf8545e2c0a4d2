import type { types } from 'mediasoup';
import { LineLogger, TypedEmitter } from '@gw/common';
import type { WorkerPool } from '@gw/sfu';
import { AnswerTrack, buildWhepAnswer, MediaKind, WhepOffer, WhepOfferError } from './whep-sdp';

export interface RtcListen {
  listenIp: string;
  announcedIp?: string;
}

export interface WhepSessionOptions {
  id: string;
  channelId: string;
  userId: string;
  router: types.Router;
  pool: WorkerPool;
  rtc: RtcListen;
  offer: WhepOffer;
  /** The program's producers in the viewing room. */
  producers: Partial<Record<MediaKind, types.Producer>>;
  logger: LineLogger;
  /** A session whose DTLS never connects ends after this long. Default 20 s. */
  connectTimeoutMs?: number;
  /** A session whose ICE stays disconnected this long ends. Default 10 s. */
  disconnectGraceMs?: number;
}

interface WhepSessionEvents extends Record<string, unknown[]> {
  closed: [{ reason: string }];
}

/**
 * One WHEP player: a WebRtcTransport (ICE-lite, DTLS) with a consumer of each
 * program producer its offer accepts. The consumers start paused and resume
 * once DTLS is up, asking for a keyframe then. Ends on DELETE, when the
 * player's DTLS closes or fails, when its ICE stays disconnected, when it
 * never connects, or with the room. close() is idempotent.
 */
export class WhepSession extends TypedEmitter<WhepSessionEvents> {
  readonly createdAt = Date.now();
  readonly #consumers: types.Consumer[] = [];
  #transport!: types.WebRtcTransport;
  #timer: NodeJS.Timeout | undefined;
  #connected = false;
  #closed = false;

  private constructor(private readonly o: WhepSessionOptions) {
    super();
  }

  /** Makes the transport and consumers and returns the session with its SDP answer. */
  static async create(o: WhepSessionOptions): Promise<{ session: WhepSession; answer: string }> {
    const session = new WhepSession(o);
    const worker = o.router.appData.worker as types.Worker;
    const transport = await o.router.createWebRtcTransport({
      listenIps: [{ ip: o.rtc.listenIp, announcedIp: o.rtc.announcedIp }],
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      appData: { whepSession: o.id },
    });
    session.#transport = transport;
    try {
      await transport.connect({ dtlsParameters: o.offer.dtls });
      const tracks: Record<string, AnswerTrack> = {};
      for (const kind of ['audio', 'video'] as const) {
        const mid = o.offer.mids[kind];
        const producer = o.producers[kind];
        if (mid === undefined || !producer) continue;
        if (!o.router.canConsume({ producerId: producer.id, rtpCapabilities: o.offer.rtpCapabilities as types.RtpCapabilities })) {
          if (kind === 'video') throw new WhepOfferError('the offer\'s H.264 does not fit the program\'s', 'WHEP_NO_H264');
          continue;
        }
        const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: o.offer.rtpCapabilities as types.RtpCapabilities, mid, paused: true });
        o.pool.track(worker, consumer);
        session.#consumers.push(consumer);
        // The player reads packets by its own offer's payload types (see WhepOffer.payloadTypes).
        if (consumer.rtpParameters.codecs[0]?.payloadType !== o.offer.payloadTypes[kind]) {
          throw new Error(`the ${kind} consumer sends payload type ${consumer.rtpParameters.codecs[0]?.payloadType}, the offer expects ${o.offer.payloadTypes[kind]}`);
        }
        tracks[mid] = { kind, id: consumer.id, rtpParameters: consumer.rtpParameters };
      }
      const answer = buildWhepAnswer({
        offer: o.offer,
        ice: transport.iceParameters,
        candidates: transport.iceCandidates,
        fingerprints: transport.dtlsParameters.fingerprints,
        tracks,
        streamId: `whep-${o.channelId}`,
        sessionId: String(Date.now()),
      });
      session.#watch();
      return { session, answer };
    } catch (error) {
      session.close('failed to start');
      throw error;
    }
  }

  get id(): string {
    return this.o.id;
  }

  get userId(): string {
    return this.o.userId;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** What the session holds, for the room's view. */
  view(): { id: string; userId: string; connected: boolean; ice: string; dtls: string; consumers: { kind: string; paused: boolean }[] } {
    return {
      id: this.o.id,
      userId: this.o.userId,
      connected: this.#connected,
      ice: this.#transport.iceState,
      dtls: this.#transport.dtlsState,
      consumers: this.#consumers.filter((c) => !c.closed).map((c) => ({ kind: c.kind, paused: c.paused })),
    };
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    // The transport owns the consumers: they close with it.
    this.#transport?.close();
    this.o.logger.log(`whep session ${this.o.id} on channel ${this.o.channelId} ended (${reason})`);
    this.emit('closed', { reason });
  }

  #watch(): void {
    const transport = this.#transport;
    this.#timer = setTimeout(() => this.close('never connected'), this.o.connectTimeoutMs ?? 20000);
    transport.on('dtlsstatechange', (state) => {
      if (state === 'connected') void this.#onConnected();
      else if (state === 'failed' || state === 'closed') this.close(`DTLS ${state}`);
    });
    transport.on('icestatechange', (state) => {
      if (state === 'disconnected') {
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => this.close('ICE disconnected'), this.o.disconnectGraceMs ?? 10000);
      } else if ((state === 'connected' || state === 'completed') && this.#connected) {
        clearTimeout(this.#timer);
      }
    });
    transport.observer.once('close', () => this.close('transport closed'));
  }

  async #onConnected(): Promise<void> {
    if (this.#closed || this.#connected) return;
    this.#connected = true;
    clearTimeout(this.#timer);
    for (const consumer of this.#consumers) {
      if (consumer.closed) continue;
      // Resuming syncs the consumer at the producer's next keyframe; asking for one says "now" where
      // the producer can hear it (a transcoding feed keys every second on its own, a passthrough one
      // as often as the program).
      await consumer.resume().catch(() => undefined);
      if (consumer.kind === 'video') await consumer.requestKeyFrame().catch(() => undefined);
    }
  }
}
