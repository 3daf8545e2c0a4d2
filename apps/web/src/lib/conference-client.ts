import { Device, types } from 'mediasoup-client';
import { MediaPath, sfuPathFromStats } from './media-path';
import { Signalling, SignallingError } from './signalling';

export interface RemoteParticipant {
  userId: string;
  via: string;
  stream: MediaStream;
}

type Listener = () => void;

/** The least time between two ICE restarts of one transport. */
const ICE_RESTART_SPACING_MS = 2000;

/**
 * A participant's side of a conference: joins over `media:*` signalling, sends
 * the local camera and microphone, and receives everyone else (docs/signalling.md).
 */
export class ConferenceClient {
  readonly device = new Device();
  sendTransport?: types.Transport;
  recvTransport?: types.Transport;
  readonly remotes = new Map<string, RemoteParticipant>();
  readonly producers = new Map<string, types.Producer>();
  readonly consumers = new Map<string, types.Consumer>();
  conferenceId?: string;
  userId?: string;
  /** How many times the gateway moved this client to a new router (a worker died) and it rejoined. */
  rejoins = 0;
  /** How many ICE restarts this client made (its network path broke for long enough that ICE failed). */
  iceRestarts = 0;
  /** The ladder rung of the latest transport that connected (also told to the gateway, `media:path`). */
  path?: MediaPath;
  /** STUN/TURN servers from the join ack (fresh credentials at every join). */
  #iceServers: RTCIceServer[] = [];
  readonly #listeners = new Set<Listener>();
  #local?: MediaStream;
  #joined = false;
  /** Producers announced while joining (producerId → userId). */
  readonly #early = new Map<string, string>();
  #rejoining?: Promise<void>;
  #composite?: { stream: MediaStream; producers: types.Producer[] };

  constructor(readonly signalling: Signalling) {
    signalling.on<{ userId: string; producerId: string }>('media:newProducer', (e) => {
      if (e.userId === this.userId) return;
      // Joining, before the receive transport exists: consume it once it does.
      if (!this.recvTransport) this.#early.set(e.producerId, e.userId);
      else void this.#consume(e.producerId, e.userId);
    });
    signalling.on<{ producerId: string }>('media:producerClosed', (e) => this.#early.delete(e.producerId));
    signalling.on<{ consumerId: string }>('media:consumerClosed', (e) => this.#dropConsumer(e.consumerId));
    signalling.on<{ userId: string; via: string }>('media:participantJoined', (e) => {
      if (e.userId !== this.userId) this.#remote(e.userId, e.via);
      this.#changed();
    });
    signalling.on<{ userId: string }>('media:participantLeft', (e) => {
      this.remotes.delete(e.userId);
      this.#changed();
    });
    signalling.on<{ reason: string }>('media:conferenceEnded', () => {
      this.remotes.clear();
      this.#changed();
    });
    // The SFU worker under us died: the gateway rebuilt the conference elsewhere; join again with the same media.
    signalling.on<{ conferenceId: string }>('media:rejoin', (e) => {
      if (e.conferenceId === this.conferenceId) void this.#rejoin();
    });
    // A dropped socket took our place in the conference with it (the gateway may even have restarted): join again.
    signalling.socket.io.on('reconnect', () => {
      if (this.#joined) void this.#rejoin();
    });
  }

  onChange(listener: Listener): void {
    this.#listeners.add(listener);
  }

  async join(conferenceId: string, local?: MediaStream): Promise<void> {
    await this.signalling.connected();
    const joined = await this.signalling.request<{
      userId: string;
      rtpCapabilities: types.RtpCapabilities;
      participants: { userId: string; via: string }[];
      producers: { userId: string; producerId: string }[];
      iceServers?: RTCIceServer[];
    }>('media:join', { conferenceId });
    this.#iceServers = joined.iceServers ?? [];
    this.conferenceId = conferenceId;
    this.userId = joined.userId;
    this.#local = local;
    this.#joined = true;
    if (!this.device.loaded) await this.device.load({ routerRtpCapabilities: joined.rtpCapabilities });
    for (const p of joined.participants) if (p.userId !== this.userId) this.#remote(p.userId, p.via);
    this.recvTransport = await this.#createTransport('recv');
    if (local) {
      this.sendTransport = await this.#createTransport('send');
      for (const track of local.getTracks()) {
        // stopTracks: false, so a rejoin (after a worker died) can send the same tracks again; the page stops them when it leaves.
        const producer = await this.sendTransport.produce({ track, stopTracks: false });
        this.producers.set(producer.id, producer);
      }
    }
    const toConsume = new Map<string, string>(joined.producers.map((p) => [p.producerId, p.userId]));
    for (const [producerId, userId] of this.#early) toConsume.set(producerId, userId);
    this.#early.clear();
    for (const [producerId, userId] of toConsume) {
      // One that closed meanwhile is not worth failing the join for.
      await this.#consume(producerId, userId).catch((error: Error) => console.warn(`cannot receive ${userId}: ${error.message}`));
    }
    this.#changed();
  }

  /**
   * Publishes a composed program (client-side mixing): its producers are marked
   * `composite`, so peers do not receive them and only the gateway's packager
   * consumes them. Returns a function that withdraws them.
   */
  async publishComposite(stream: MediaStream): Promise<() => void> {
    const composite = { stream, producers: await this.#produceComposite(stream) };
    this.#composite = composite;
    return () => {
      if (this.#composite === composite) this.#composite = undefined;
      for (const producer of composite.producers) {
        producer.close();
        void this.signalling.request('media:closeProducer', { producerId: producer.id }).catch(() => undefined);
      }
    };
  }

  async #produceComposite(stream: MediaStream): Promise<types.Producer[]> {
    this.sendTransport ??= await this.#createTransport('send');
    const producers: types.Producer[] = [];
    // H.264 when this browser can send it: the gateway then remuxes the picture without re-encoding.
    const h264 = this.device.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === 'video/h264');
    for (const track of stream.getTracks()) {
      const codec = track.kind === 'video' ? h264 : undefined;
      producers.push(await this.sendTransport.produce({ track, stopTracks: false, appData: { composite: true }, ...(codec ? { codec } : {}) }));
    }
    return producers;
  }

  /** Drops every transport (the router they lived on is gone) and joins again with the same tracks. */
  #rejoin(): Promise<void> {
    this.#rejoining ??= this.#doRejoin()
      .catch((error: Error) => console.error(`could not rejoin the conference: ${error.message}`))
      .finally(() => (this.#rejoining = undefined));
    return this.#rejoining;
  }

  async #doRejoin(): Promise<void> {
    const conferenceId = this.conferenceId!;
    this.sendTransport?.close();
    this.recvTransport?.close();
    this.sendTransport = undefined;
    this.recvTransport = undefined;
    this.producers.clear();
    this.consumers.clear();
    this.remotes.clear();
    this.#changed();
    await this.join(conferenceId, this.#local);
    if (this.#composite) this.#composite.producers = await this.#produceComposite(this.#composite.stream);
    this.rejoins += 1;
    this.#changed();
  }

  async leave(): Promise<void> {
    this.#joined = false;
    await this.signalling.request('media:leave', {});
    this.sendTransport?.close();
    this.recvTransport?.close();
    this.remotes.clear();
    this.#changed();
  }

  async #createTransport(direction: 'send' | 'recv'): Promise<types.Transport> {
    const params = await this.signalling.request<types.TransportOptions>('media:createTransport', { direction });
    const options = {
      id: params.id,
      iceParameters: params.iceParameters,
      iceCandidates: params.iceCandidates,
      dtlsParameters: params.dtlsParameters,
      // TURN lets a client that cannot reach the SFU directly (UDP and TCP blocked but for the TURN port) still connect.
      iceServers: this.#iceServers,
    };
    // The SFU's candidates stay readable on the transport (diagnostics, and tests that cut its paths).
    const appData = { iceCandidates: params.iceCandidates };
    const transport = direction === 'send' ? this.device.createSendTransport({ ...options, appData }) : this.device.createRecvTransport({ ...options, appData });
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.signalling.request('media:connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
    });
    this.#restartIceOnFailure(transport);
    transport.on('connectionstatechange', (state) => {
      if (state === 'connected') void this.#reportPath(transport);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        this.signalling
          .request<{ producerId: string }>('media:produce', { transportId: transport.id, kind, rtpParameters, ...(appData && Object.keys(appData).length ? { appData } : {}) })
          .then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    return transport;
  }

  /**
   * A path that breaks for long (a stalled network, a suspended laptop) ends in
   * ICE `failed`, from which WebRTC does not come back by itself: ask the
   * gateway for new ICE credentials and restart ICE, again on every later
   * failure while the path is still down (at most one restart per
   * ICE_RESTART_SPACING_MS). A short break (`disconnected`) heals by itself.
   */
  #restartIceOnFailure(transport: types.Transport): void {
    let busy = false;
    let lastAt = 0;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const restart = async (): Promise<void> => {
      retry = undefined;
      if (busy || transport.closed || transport.connectionState !== 'failed') return;
      const wait = lastAt + ICE_RESTART_SPACING_MS - Date.now();
      if (wait > 0) {
        retry = setTimeout(() => void restart(), wait);
        return;
      }
      busy = true;
      lastAt = Date.now();
      try {
        const { iceParameters } = await this.signalling.request<{ iceParameters: types.IceParameters }>('media:restartIce', { transportId: transport.id });
        if (!transport.closed) await transport.restartIce({ iceParameters });
        this.iceRestarts += 1;
        this.#changed();
      } catch (error) {
        console.warn(`ICE restart failed: ${(error as Error).message}`);
        // The gateway no longer knows this transport (we left, or a rejoin replaced it): nothing to restart.
        if (error instanceof SignallingError && ['TRANSPORT_NOT_FOUND', 'NOT_JOINED'].includes(error.code)) return;
      } finally {
        busy = false;
      }
      // Failed again while we were restarting: go on.
      if (!transport.closed && transport.connectionState === 'failed') void restart();
    };
    transport.on('connectionstatechange', (state) => {
      if (state === 'failed') void restart();
      else if (state === 'closed') clearTimeout(retry);
    });
  }

  /**
   * Tells the gateway which rung a transport that just connected uses (its
   * selected candidate pair; read again a few times if the stats do not name it yet).
   */
  async #reportPath(transport: types.Transport): Promise<void> {
    try {
      let path: MediaPath | undefined;
      for (let attempt = 0; attempt < 5 && !path; attempt += 1) {
        if (attempt) await new Promise((resolve) => setTimeout(resolve, 500));
        if (transport.closed || transport.connectionState !== 'connected') return;
        path = sfuPathFromStats(await transport.getStats());
      }
      if (!path || !this.conferenceId) return;
      this.path = path;
      await this.signalling.request('media:path', { conferenceId: this.conferenceId, path });
      this.#changed();
    } catch (error) {
      console.warn(`could not report the media path: ${(error as Error).message}`);
    }
  }

  async #consume(producerId: string, userId: string): Promise<void> {
    if (!this.recvTransport) return;
    const params = await this.signalling.request<{ consumerId: string; producerId: string; kind: types.MediaKind; rtpParameters: types.RtpParameters }>(
      'media:consume',
      { producerId, rtpCapabilities: this.device.rtpCapabilities },
    );
    const consumer = await this.recvTransport.consume({ id: params.consumerId, producerId: params.producerId, kind: params.kind, rtpParameters: params.rtpParameters });
    consumer.appData.userId = userId;
    this.consumers.set(consumer.id, consumer);
    this.#remote(userId).stream.addTrack(consumer.track);
    await this.signalling.request('media:resumeConsumer', { consumerId: consumer.id });
    this.#changed();
  }

  #dropConsumer(consumerId: string): void {
    const consumer = this.consumers.get(consumerId);
    if (!consumer) return;
    this.consumers.delete(consumerId);
    this.remotes.get(consumer.appData.userId as string)?.stream.removeTrack(consumer.track);
    consumer.close();
    this.#changed();
  }

  #remote(userId: string, via = 'webrtc'): RemoteParticipant {
    let remote = this.remotes.get(userId);
    if (!remote) {
      remote = { userId, via, stream: new MediaStream() };
      this.remotes.set(userId, remote);
    }
    return remote;
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
