import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { types } from 'mediasoup';
import { LineLogger, newId, TypedEmitter } from '@gw/common';
import { ROUTER_MEDIA_CODECS, SfuCapacityError, WorkerPool } from '@gw/sfu';
import { FEED_CODECS, FeedRtpTarget } from './program-feed-args';
import { ProgramFeed, ProgramTaps } from './program-feed';
import { RtcListen, WhepSession } from './whep-session';
import { MediaKind, WhepOffer } from './whep-sdp';

const AUDIO_PT = 100;
const VIDEO_PT = 101;

export interface ViewingRoomOptions {
  channelId: string;
  pool: WorkerPool;
  programs: ProgramTaps;
  rtc: RtcListen;
  ffmpegPath: string;
  logger: LineLogger;
}

interface ViewingRoomEvents extends Record<string, unknown[]> {
  /** A session ended; the room may now be empty. */
  sessionClosed: [{ sessionId: string; reason: string }];
  closed: [{ reason: string }];
}

export interface ViewingRoomView {
  channelId: string;
  workerSlot?: number;
  feed: { pid?: number; passthrough?: boolean; starts: number };
  sessions: ReturnType<WhepSession['view']>[];
  /**
   * What mediasoup itself holds on the room's routers: `consumers` are the players' (on the
   * delivery routers), `pipeConsumers` carry the program from the source router to them.
   */
  media: { routers: number; transports: number; producers: number; consumers: number; pipeConsumers: number };
}

/** A router that sends the program with one player family's payload types, and the program's producers piped into it. */
interface DeliveryRouter {
  router: types.Router;
  producers: Partial<Record<MediaKind, types.Producer>>;
}

/**
 * A channel's viewing room: a mediasoup router of its own (not a
 * conference's), the program fed into it as an Opus + H.264 producer pair
 * (ProgramFeed through two PlainTransports), and the WHEP sessions consuming
 * them. A player demultiplexes by the payload types of its own offer and a
 * mediasoup consumer sends with its router's, so sessions are served by
 * delivery routers (on the same worker) whose codecs carry the offer's
 * payload types, one per distinct pair (every Chromium shares one), with the
 * producers piped in. Made when a channel's first WHEP player arrives;
 * close() (idempotent) ends the sessions, the feed's ffmpeg and the routers.
 */
export class ViewingRoom extends TypedEmitter<ViewingRoomEvents> {
  readonly #sessions = new Map<string, WhepSession>();
  readonly #producers: Partial<Record<MediaKind, types.Producer>> = {};
  /** By `<opus pt>/<h264 pt>`. */
  readonly #delivery = new Map<string, Promise<DeliveryRouter>>();
  #feed: ProgramFeed | undefined;
  #closed = false;

  private constructor(
    private readonly o: ViewingRoomOptions,
    readonly router: types.Router,
  ) {
    super();
  }

  static async create(o: ViewingRoomOptions): Promise<ViewingRoom> {
    const worker = o.pool.pickWorker({ extra: 2 });
    const router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS, appData: { worker, viewingRoom: o.channelId } });
    const room = new ViewingRoom(o, router);
    router.observer.once('close', () => room.close('router closed'));
    try {
      const ports = await freeUdpPorts(4);
      const targets: Record<MediaKind, FeedRtpTarget> = {} as Record<MediaKind, FeedRtpTarget>;
      for (const [i, kind] of (['audio', 'video'] as const).entries()) {
        const transport = await router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: false, comedia: true, appData: { feed: kind } });
        const ssrc = randomInt(1, 2 ** 31);
        const payloadType = kind === 'audio' ? AUDIO_PT : VIDEO_PT;
        const codec = kind === 'audio' ? { ...FEED_CODECS.audio, parameters: { ...FEED_CODECS.audio.parameters } } : { ...FEED_CODECS.video, parameters: { ...FEED_CODECS.video.parameters } };
        const producer = await transport.produce({ kind, rtpParameters: { codecs: [{ ...codec, payloadType }], encodings: [{ ssrc }] }, appData: { channelId: o.channelId } });
        o.pool.track(worker, producer);
        room.#producers[kind] = producer;
        targets[kind] = { port: transport.tuple.localPort, rtcpPort: transport.rtcpTuple!.localPort, localPort: ports[i * 2], localRtcpPort: ports[i * 2 + 1], payloadType, ssrc };
      }
      if (room.#closed) throw new Error('closed while starting');
      room.#feed = new ProgramFeed({ channelId: o.channelId, programs: o.programs, ffmpegPath: o.ffmpegPath, audio: targets.audio, video: targets.video, logger: o.logger });
      await room.#feed.start();
    } catch (error) {
      room.close('failed to start');
      throw error;
    }
    o.logger.log(`viewing room of channel ${o.channelId} open on worker slot ${o.pool.slotOf(worker)?.index}`);
    return room;
  }

  get channelId(): string {
    return this.o.channelId;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get worker(): types.Worker {
    return this.router.appData.worker as types.Worker;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  session(id: string): WhepSession | undefined {
    return this.#sessions.get(id);
  }

  /** A new WHEP session for the offer: its id and SDP answer. SFU_CAPACITY when the room's worker is full. */
  async addSession(offer: WhepOffer, userId: string): Promise<{ sessionId: string; answer: string }> {
    if (!this.o.pool.hasRoom(this.worker, 2)) throw new SfuCapacityError();
    const id = newId('whep', 12);
    const delivery = await this.#deliveryFor(offer.payloadTypes);
    const { session, answer } = await WhepSession.create({
      id,
      channelId: this.o.channelId,
      userId,
      router: delivery.router,
      pool: this.o.pool,
      rtc: this.o.rtc,
      offer,
      producers: delivery.producers,
      logger: this.o.logger,
    });
    if (this.#closed) {
      session.close('room closed');
      throw new Error('the viewing room closed');
    }
    this.#sessions.set(id, session);
    session.once('closed', ({ reason }) => {
      this.#sessions.delete(id);
      this.emit('sessionClosed', { sessionId: id, reason });
    });
    return { sessionId: id, answer };
  }

  async view(): Promise<ViewingRoomView> {
    const routers = [this.router, ...(await Promise.all([...this.#delivery.values()].map((d) => d.then((x) => x.router, () => undefined))))];
    const dumps = await Promise.all(routers.map((r) => (r && !r.closed ? r.dump().catch(() => undefined) : undefined)));
    const count = (pick: (d: NonNullable<(typeof dumps)[number]>) => number, from = 0) => dumps.slice(from).reduce((n, d) => n + (d ? pick(d) : 0), 0);
    const consumers = (d: NonNullable<(typeof dumps)[number]>) => Object.keys(d.mapConsumerIdProducerId).length;
    return {
      channelId: this.o.channelId,
      workerSlot: this.o.pool.slotOf(this.worker)?.index,
      feed: { pid: this.#feed?.pid, passthrough: this.#feed?.passthrough, starts: this.#feed?.starts ?? 0 },
      sessions: [...this.#sessions.values()].map((s) => s.view()),
      media: {
        routers: dumps.filter(Boolean).length,
        transports: count((d) => d.transportIds.length),
        producers: count((d) => Object.keys(d.mapProducerIdConsumerIds).length),
        consumers: count(consumers, 1),
        pipeConsumers: dumps[0] ? consumers(dumps[0]) : 0,
      },
    };
  }

  /** The feed's ffmpeg pid, if running (for leak checks). */
  get pid(): number | undefined {
    return this.#feed?.pid;
  }

  async close(reason: string): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const session of [...this.#sessions.values()]) session.close(reason);
    this.#sessions.clear();
    const feed = this.#feed;
    for (const delivery of this.#delivery.values()) void delivery.then((d) => d.router.close(), () => undefined);
    this.router.close();
    this.o.logger.log(`viewing room of channel ${this.o.channelId} closed (${reason})`);
    this.emit('closed', { reason });
    await feed?.stop();
  }

  /**
   * The delivery router for these payload types, made on first use: a router on the room's worker
   * whose Opus and H.264 have them, with the program's producers piped in through a PipeTransport
   * pair (by hand, not pipeToRouter: mediasoup 3.12 would reuse the producer ids, which clash on
   * one worker), each end closing with the other.
   */
  #deliveryFor(payloadTypes: { audio?: number; video: number }): Promise<DeliveryRouter> {
    const key = `${payloadTypes.audio ?? '-'}/${payloadTypes.video}`;
    let delivery = this.#delivery.get(key);
    if (delivery) return delivery;
    delivery = (async (): Promise<DeliveryRouter> => {
      const worker = this.worker;
      const mediaCodecs = ROUTER_MEDIA_CODECS.filter((c) => c.mimeType !== 'video/VP8').map((c) => ({
        ...c,
        ...(c.kind === 'audio' && payloadTypes.audio !== undefined ? { preferredPayloadType: payloadTypes.audio } : {}),
        ...(c.kind === 'video' ? { preferredPayloadType: payloadTypes.video } : {}),
      }));
      const router = await worker.createRouter({ mediaCodecs, appData: { worker, viewingRoom: this.o.channelId, payloadTypes: key } });
      if (this.#closed) router.close();
      const [local, remote] = await Promise.all([this.router.createPipeTransport({ listenIp: '127.0.0.1' }), router.createPipeTransport({ listenIp: '127.0.0.1' })]);
      await Promise.all([
        local.connect({ ip: remote.tuple.localIp, port: remote.tuple.localPort }),
        remote.connect({ ip: local.tuple.localIp, port: local.tuple.localPort }),
      ]);
      const producers: Partial<Record<MediaKind, types.Producer>> = {};
      for (const [kind, source] of Object.entries(this.#producers) as [MediaKind, types.Producer][]) {
        const pipeConsumer = await local.consume({ producerId: source.id });
        this.o.pool.track(worker, pipeConsumer);
        const pipeProducer = await remote.produce({ kind: pipeConsumer.kind, rtpParameters: pipeConsumer.rtpParameters, paused: pipeConsumer.producerPaused });
        this.o.pool.track(worker, pipeProducer);
        pipeConsumer.observer.once('close', () => pipeProducer.close());
        pipeProducer.observer.once('close', () => pipeConsumer.close());
        producers[kind] = pipeProducer;
      }
      // The source router's end of the pipe goes with the delivery router.
      router.observer.once('close', () => local.close());
      return { router, producers };
    })();
    this.#delivery.set(key, delivery);
    delivery.catch(() => this.#delivery.delete(key));
    return delivery;
  }
}

/** `count` distinct loopback UDP ports free right now (bound together, then released for ffmpeg to take). */
async function freeUdpPorts(count: number): Promise<number[]> {
  const sockets = Array.from({ length: count }, () => createSocket('udp4'));
  try {
    await Promise.all(sockets.map((s) => new Promise<void>((resolve, reject) => (s.once('error', reject), s.bind(0, '127.0.0.1', () => resolve())))));
    return sockets.map((s) => s.address().port);
  } finally {
    for (const s of sockets) s.close();
  }
}
