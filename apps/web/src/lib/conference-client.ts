import { Device, types } from 'mediasoup-client';
import { MediaPath, sfuPathFromStats } from './media-path';
import { P2pLink, P2pSignal } from './p2p-link';
import { Signalling, SignallingError } from './signalling';

export interface RemoteParticipant {
  userId: string;
  via: string;
  stream: MediaStream;
}

/** What the conference's host (or the participant itself) muted for everyone (`media:mute`). */
export type MuteKind = 'audio' | 'video' | 'screen';
export interface MuteState {
  muted: boolean;
  /** Only the host may unmute. */
  locked: boolean;
}

type Listener = () => void;

/** The least time between two ICE restarts of one transport. */
const ICE_RESTART_SPACING_MS = 2000;
/** A direct path that stays disconnected this long is given up for the SFU. */
const P2P_DROP_MS = 2000;
/**
 * After falling back to the SFU, the offering side tries the direct path again
 * (the ladder moves back up when it can): first after this long, then twice as
 * long after each failed try, up to P2P_RETRY_MAX_MS.
 */
const P2P_RETRY_FIRST_MS = 5000;
const P2P_RETRY_MAX_MS = 60000;
/** How often the SFU transport's selected candidate pair is read again, so a path that moved (to TURN, or back) is told. */
const PATH_CHECK_MS = 3000;
/** How often the client tells the gateway about its uplink (`media:stats`: RTT, available bitrate, frame rate). */
const STATS_REPORT_MS = 2000;

/** A participant's uplink quality as the gateway scores it (`media:quality`, sent to the conference's host). */
export interface ParticipantQuality {
  score: number;
  lossPct: number;
  rttMs?: number;
  kbps: number;
  fps?: number;
  jitterMs: number;
}

export interface ConferenceClientOptions {
  /** The name the mix draws on this participant's tile (sent with `media:join`). */
  displayName?: string;
  /** Try a direct path to the other participant first when the conference allows it (default true). */
  p2p?: boolean;
  /**
   * Send for a lossy uplink (default true): Opus in-band FEC, and the camera as simulcast
   * (a half-size layer beside the full one), so the SFU gives each receiver the layer its downlink
   * carries and the mixer the one its cell needs. `false` sends one layer, no FEC (the
   * `resilience=off` page parameter), for comparison.
   */
  resilience?: boolean;
  /**
   * Opus DTX (default false; the `dtx=on` page parameter): near-silence costs almost nothing. Off by
   * default because Opus takes a sustained sound for background and stops sending it: on a clean link a
   * steady tone dropped out of the mix in a fifth to all of its 100 ms blocks, run to run (`npm run
   * bench -- lossy`), and
   * co-hosting hosts sing and play music. For a speech-only meeting it saves the pauses.
   */
  dtx?: boolean;
}

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
  /** The ladder rung in use (also told to the gateway, `media:path`). */
  get path(): MediaPath | undefined {
    return this.#path;
  }
  set path(path: MediaPath | undefined) {
    if (path === this.#path) return;
    this.#path = path;
    this.pathHistory.push({ at: Date.now(), path });
    if (this.pathHistory.length > 50) this.pathHistory.shift();
  }
  #path?: MediaPath;
  /** The rungs this client went through, with when (the last 50; diagnostics and tests). */
  readonly pathHistory: { at: number; path?: MediaPath }[] = [];
  /** STUN/TURN servers from the join ack (fresh credentials at every join). */
  #iceServers: RTCIceServer[] = [];
  /** The direct path to the other participant while one is tried or up. */
  p2p?: P2pLink;
  /**
   * How many direct paths connected; how many times the client fell back to
   * the SFU for want of one (the first try failing, or a path that was up
   * dropping; failed tries to move back up are not counted again); and how
   * many tries to move back up it made.
   */
  p2pConnects = 0;
  p2pFallbacks = 0;
  p2pRetries = 0;
  /** Whether the conference allows a direct path now (the join's `p2p.allowed`, then `p2p:allowed`). */
  #p2pAllowed = false;
  /** On the SFU since a fallback (not counted again until a direct path connects). */
  #fellBack = false;
  #retryTimer?: ReturnType<typeof setTimeout>;
  #retryDelayMs = P2P_RETRY_FIRST_MS;
  #pathTimer?: ReturnType<typeof setInterval>;
  #statsTimer?: ReturnType<typeof setInterval>;
  /** Set when the host removed this user from the conference (`media:removed`): the page has left. */
  removed = false;
  /** Display names by user (from the join, then `media:displayName`). */
  readonly displayNames = new Map<string, string>();
  /** Who is muted, by user and kind (from the join, then `media:muted`); your own included. */
  readonly mutes = new Map<string, Partial<Record<MuteKind, MuteState>>>();
  /** Everyone's uplink quality (the host of the conference is told; others see nothing here). */
  readonly qualities = new Map<string, ParticipantQuality>();
  #p2pTimeoutMs = 2500;
  /** Signals that came before the join's ack. */
  #earlySignals: P2pSignal[] = [];
  /** Whether the local tracks are sent to the SFU (not while a direct path carries them). */
  #sfuProducing = false;
  readonly #listeners = new Set<Listener>();
  #local?: MediaStream;
  #joined = false;
  /** Producers announced while joining (producerId → userId). */
  readonly #early = new Map<string, string>();
  #rejoining?: Promise<void>;
  #composite?: { stream: MediaStream; producers: types.Producer[] };
  #screen?: { stream: MediaStream; producers: types.Producer[] };
  #picking = false;

  constructor(
    readonly signalling: Signalling,
    readonly options: ConferenceClientOptions = {},
  ) {
    signalling.on<P2pSignal>('p2p:signal', (e) => {
      if (e.conferenceId !== this.conferenceId || !this.userId) this.#earlySignals.push(e);
      else void this.#onP2pSignal(e);
    });
    signalling.on<{ conferenceId: string; allowed: boolean; userIds: string[] }>('p2p:allowed', (e) => {
      if (e.conferenceId !== this.conferenceId || !this.userId) return;
      this.#p2pAllowed = e.allowed;
      if (!e.allowed) {
        this.#cancelRetry();
        return void this.#leaveP2p('the conference needs the SFU');
      }
      const peer = e.userIds.find((u) => u !== this.userId);
      if (peer) void this.#tryP2p(peer);
    });
    signalling.on<{ conferenceId: string; userId: string; quality: ParticipantQuality }>('media:quality', (e) => {
      if (e.conferenceId !== this.conferenceId) return;
      this.qualities.set(e.userId, e.quality);
      this.#changed();
    });
    signalling.on<{ conferenceId: string; userId: string; kind: MuteKind; muted: boolean; locked: boolean }>('media:muted', (e) => {
      if (e.conferenceId !== this.conferenceId) return;
      this.#setMute(e.userId, e.kind, { muted: e.muted, locked: e.locked });
      this.#changed();
    });
    // Host controls: this page's share was ended, or this user removed from the conference.
    signalling.on<{ conferenceId: string; userId: string }>('media:shareStopped', (e) => {
      if (e.conferenceId === this.conferenceId && e.userId === this.userId) void this.stopScreen();
    });
    signalling.on<{ conferenceId: string; userId: string }>('media:removed', (e) => {
      if (e.conferenceId !== this.conferenceId) return;
      if (e.userId !== this.userId) return;
      if (this.removed) return;
      this.removed = true;
      void this.leave().then(() => this.#changed());
    });
    signalling.on<{ conferenceId: string; userId: string; displayName: string }>('media:displayName', (e) => {
      if (e.conferenceId !== this.conferenceId) return;
      this.displayNames.set(e.userId, e.displayName);
      this.#changed();
    });
    signalling.on<{ userId: string; producerId: string; screen?: boolean }>('media:newProducer', (e) => {
      if (e.userId === this.userId) return;
      // A screen share is shown as a tile of its own, `<userId>:screen`.
      if (e.screen) return void (this.recvTransport ? this.#consume(e.producerId, screenTile(e.userId), 'screen') : this.#early.set(e.producerId, screenTile(e.userId)));
      // Joining, before the receive transport exists: consume it once it does. From the peer of a direct
      // path being tried or up: only if that path is given up (#leaveP2p).
      if (!this.recvTransport || this.#directPeer() === e.userId) this.#early.set(e.producerId, e.userId);
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
      this.remotes.delete(screenTile(e.userId));
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
      participants: { userId: string; via: string; muted?: Record<MuteKind, boolean>; muteLocked?: Record<MuteKind, boolean>; displayName?: string }[];
      producers: { userId: string; producerId: string; screen?: boolean }[];
      iceServers?: RTCIceServer[];
      p2p?: { allowed: boolean; timeoutMs: number };
    }>('media:join', { conferenceId, ...(this.options.displayName ? { displayName: this.options.displayName } : {}) });
    this.#iceServers = joined.iceServers ?? [];
    this.#p2pTimeoutMs = joined.p2p?.timeoutMs ?? 2500;
    this.#p2pAllowed = !!joined.p2p?.allowed;
    this.#watchPath();
    this.#reportStats();
    this.conferenceId = conferenceId;
    this.userId = joined.userId;
    this.#local = local;
    this.#joined = true;
    if (!this.device.loaded) await this.device.load({ routerRtpCapabilities: joined.rtpCapabilities });
    for (const p of joined.participants) if (p.userId !== this.userId) this.#remote(p.userId, p.via);
    this.mutes.clear();
    for (const p of joined.participants) if (p.displayName) this.displayNames.set(p.userId, p.displayName);
    for (const p of joined.participants) {
      for (const kind of ['audio', 'video', 'screen'] as const) if (p.muted?.[kind]) this.#setMute(p.userId, kind, { muted: true, locked: !!p.muteLocked?.[kind] });
    }
    // Our own tracks as the gateway has us now (unmuted while we were away: on again).
    const mine = joined.participants.find((p) => p.userId === joined.userId);
    for (const track of local?.getTracks() ?? []) track.enabled = !mine?.muted?.[track.kind as 'audio' | 'video'];
    this.recvTransport = await this.#createTransport('recv');
    // The ladder's first rung: with one other WebRTC participant and no server mix, a direct path first.
    const others = joined.participants.filter((p) => p.userId !== this.userId);
    // The peer may have offered before our ack came back.
    for (const signal of this.#earlySignals.splice(0)) if (signal.conferenceId === conferenceId) void this.#onP2pSignal(signal);
    const direct = joined.p2p?.allowed && others.length === 1 ? await this.#tryP2p(others[0].userId) : false;
    if (local && !direct) await this.#produceLocal();
    const toConsume = new Map<string, string>(joined.producers.map((p) => [p.producerId, p.screen ? screenTile(p.userId) : p.userId]));
    for (const [producerId, userId] of this.#early) toConsume.set(producerId, userId);
    this.#early.clear();
    // The peer's media comes over the direct path: its SFU producers (withdrawn soon) are not consumed.
    if (direct) for (const [producerId, userId] of toConsume) if (userId === this.#directPeer()) toConsume.delete(producerId);
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
      // A composed program is sent as one layer: the gateway takes it whole (client-side mixing).
      const options = produceOptions(track, this.#sending(false));
      producers.push(await this.sendTransport.produce({ ...options, appData: { ...options.appData, composite: true }, ...(codec ? { codec } : {}) }));
    }
    return producers;
  }

  /** How this page's producers send (its options); simulcast only where asked and resilience is on. */
  #sending(simulcast: boolean): { resilience: boolean; simulcast: boolean; dtx: boolean } {
    const resilience = this.options.resilience !== false;
    return { resilience, simulcast: simulcast && resilience, dtx: this.options.dtx === true };
  }

  /** Sends the local tracks to the SFU (the ladder's second rung), unless they already go. */
  async #produceLocal(): Promise<void> {
    const local = this.#local;
    if (!local || this.#sfuProducing) return;
    this.#sfuProducing = true;
    this.sendTransport ??= await this.#createTransport('send');
    for (const track of local.getTracks()) {
      const producer = await this.sendTransport.produce(produceOptions(track, this.#sending(true)));
      this.producers.set(producer.id, producer);
    }
  }

  /** Stops sending the local tracks to the SFU (a direct path carries them now). */
  #withdrawLocal(): void {
    if (!this.#sfuProducing) return;
    this.#sfuProducing = false;
    for (const producer of this.producers.values()) {
      producer.close();
      void this.signalling.request('media:closeProducer', { producerId: producer.id }).catch(() => undefined);
    }
    this.producers.clear();
  }

  /**
   * Tries the direct path to `peerId` for P2P_TIMEOUT_MS (the join's
   * `p2p.timeoutMs`). Connected: the peer's media comes through it, ours
   * leaves the SFU, the path is `p2p`. Not: the attempt is closed and the
   * SFU path stays (or starts). A direct path that later drops for
   * P2P_DROP_MS, or that the conference stops allowing, falls back the same way.
   */
  async #tryP2p(peerId: string): Promise<boolean> {
    if (this.options.p2p === false || !this.conferenceId || !this.userId) return false;
    this.#cancelRetry();
    if (this.p2p && !this.p2p.closed) return this.p2p.peerId === peerId ? this.p2p.whenConnected(this.#p2pTimeoutMs) : false;
    const link = this.#newLink(peerId);
    await link.start().catch(() => link.close());
    const ok = await link.whenConnected(this.#p2pTimeoutMs);
    if (!ok || this.p2p !== link) {
      if (this.p2p === link) this.#leaveP2p('no direct path in time');
      return false;
    }
    return true;
  }

  #newLink(peerId: string): P2pLink {
    const link = new P2pLink(this.signalling, this.conferenceId!, this.userId!, peerId, this.#iceServers, this.#local);
    this.p2p = link;
    let dropTimer: ReturnType<typeof setTimeout> | undefined;
    link.pc.addEventListener('connectionstatechange', () => {
      const state = link.pc.connectionState;
      if (state === 'connected') {
        clearTimeout(dropTimer);
        dropTimer = undefined;
        this.#cancelRetry();
        this.#fellBack = false;
        this.#retryDelayMs = P2P_RETRY_FIRST_MS;
        if (this.path === 'p2p') return;
        this.p2pConnects += 1;
        for (const track of link.remote.getTracks()) this.#remote(peerId).stream.addTrack(track);
        this.#withdrawLocal();
        this.path = 'p2p';
        void this.signalling.request('media:path', { conferenceId: link.conferenceId, path: 'p2p' }).catch(() => undefined);
        this.#changed();
      } else if (state === 'failed') this.#leaveP2p('the direct path failed');
      else if (state === 'disconnected') dropTimer ??= setTimeout(() => this.#leaveP2p('the direct path dropped'), P2P_DROP_MS);
    });
    link.pc.addEventListener('track', (e) => {
      if (link.connected) this.#remote(peerId).stream.addTrack(e.track);
    });
    return link;
  }

  async #onP2pSignal(signal: P2pSignal): Promise<void> {
    if (this.options.p2p === false || !signal.fromUserId) return;
    if (!this.p2p || this.p2p.closed || this.p2p.peerId !== signal.fromUserId) {
      // The peer offers first (it has the smaller id): answer it, and give it the same time to connect.
      if (signal.description?.type !== 'offer') return;
      this.p2p?.close();
      const link = this.#newLink(signal.fromUserId);
      void link.whenConnected(this.#p2pTimeoutMs).then((ok) => {
        if (!ok && this.p2p === link) this.#leaveP2p('no direct path in time');
      });
    }
    await this.p2p!.onSignal(signal).catch((error: Error) => console.warn(`direct path: ${error.message}`));
  }

  /**
   * The ladder moves back up: the offering side (the answerer answers any
   * offer) tries the direct path again after a back-off, while the conference
   * allows one and the peer is still there.
   */
  #scheduleRetry(peerId: string): void {
    this.#cancelRetry();
    if (this.options.p2p === false || !this.#joined || !this.#p2pAllowed || !this.userId || !(this.userId < peerId)) return;
    const delay = this.#retryDelayMs;
    this.#retryDelayMs = Math.min(delay * 2, P2P_RETRY_MAX_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (!this.#joined || !this.#p2pAllowed || !this.remotes.has(peerId) || (this.p2p && !this.p2p.closed)) return;
      this.p2pRetries += 1;
      void this.#tryP2p(peerId);
    }, delay);
  }

  #cancelRetry(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /**
   * Reads the SFU path's selected candidate pair every PATH_CHECK_MS, so a
   * path that moved by itself (ICE switched to a TURN relay when the direct
   * one broke, or back when it healed) is told to the gateway and the page.
   */
  #watchPath(): void {
    if (this.#pathTimer) return;
    this.#pathTimer = setInterval(() => {
      if (!this.#joined || this.p2p?.connected) return;
      const transport = [this.sendTransport, this.recvTransport].find((t) => t && !t.closed && t.connectionState === 'connected');
      if (!transport) return;
      void transport
        .getStats()
        .then((stats) => {
          const path = sfuPathFromStats(stats);
          if (!path || path === this.path || this.p2p?.connected || !this.conferenceId) return;
          this.path = path;
          this.#changed();
          return this.signalling.request('media:path', { conferenceId: this.conferenceId, path });
        })
        .catch(() => undefined);
    }, PATH_CHECK_MS);
  }

  /**
   * Tells the gateway every STATS_REPORT_MS what only the sender knows of its
   * uplink (the selected pair's RTT, the congestion controller's available
   * outgoing bitrate, the frame rate sent against the camera's), for its
   * quality score. Only while it sends to the SFU.
   */
  #reportStats(): void {
    if (this.#statsTimer) return;
    this.#statsTimer = setInterval(() => {
      const transport = this.sendTransport;
      if (!this.#joined || !this.conferenceId || !transport || transport.closed || transport.connectionState !== 'connected' || !this.#sfuProducing) return;
      const conferenceId = this.conferenceId;
      void transport
        .getStats()
        .then((stats) => {
          const report: { conferenceId: string; rttMs?: number; availableKbps?: number; fps?: number; targetFps?: number } = { conferenceId };
          stats.forEach((s: Record<string, any>) => {
            if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
              if (typeof s.currentRoundTripTime === 'number') report.rttMs = Math.round(s.currentRoundTripTime * 1000);
              if (typeof s.availableOutgoingBitrate === 'number') report.availableKbps = Math.round(s.availableOutgoingBitrate / 1000);
            }
            if (s.type === 'outbound-rtp' && s.kind === 'video' && typeof s.framesPerSecond === 'number') report.fps = s.framesPerSecond;
          });
          const frameRate = this.#local?.getVideoTracks()[0]?.getSettings().frameRate;
          if (report.fps !== undefined && frameRate) report.targetFps = Math.round(frameRate);
          return this.signalling.request('media:stats', report);
        })
        .catch(() => undefined);
    }, STATS_REPORT_MS);
  }

  /** The peer of the direct path being tried or up. */
  #directPeer(): string | undefined {
    return this.p2p && !this.p2p.closed ? this.p2p.peerId : undefined;
  }

  /** Closes the direct path (if any) and makes sure the local tracks go to the SFU again. */
  #leaveP2p(why: string): void {
    const link = this.p2p;
    if (!link) return;
    this.p2p = undefined;
    const wasUp = this.path === 'p2p';
    link.close();
    const remote = this.remotes.get(link.peerId);
    for (const track of link.remote.getTracks()) remote?.stream.removeTrack(track);
    if (wasUp) this.path = undefined;
    if (wasUp || !this.#fellBack) this.p2pFallbacks += 1;
    this.#fellBack = true;
    console.info(`direct path to ${link.peerId} closed (${why}); using the SFU`);
    if (this.#joined) void this.#produceLocal().catch((error: Error) => console.warn(`cannot send to the SFU: ${error.message}`));
    // A transport that connected while the direct path was up did not name the rung: it does now.
    if (wasUp) for (const t of [this.sendTransport, this.recvTransport]) if (t && t.connectionState === 'connected') void this.#reportPath(t);
    this.#scheduleRetry(link.peerId);
    // What the peer sent to the SFU meanwhile is received from there now.
    for (const [producerId, userId] of [...this.#early]) {
      if (userId !== link.peerId || !this.recvTransport) continue;
      this.#early.delete(producerId);
      void this.#consume(producerId, userId).catch((error: Error) => console.warn(`cannot receive ${userId}: ${error.message}`));
    }
    this.#changed();
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
    this.#sfuProducing = false;
    this.#cancelRetry();
    this.p2p?.close();
    this.p2p = undefined;
    this.#changed();
    await this.join(conferenceId, this.#local);
    if (this.#composite) this.#composite.producers = await this.#produceComposite(this.#composite.stream);
    // A share in progress goes on, on the new transport.
    if (this.#screen) await this.#produceScreen(this.#screen).catch(() => undefined);
    this.rejoins += 1;
    this.#changed();
  }

  /**
   * Mutes `userId`'s audio, camera or screen share for everyone (the host
   * anyone, `locked` keeping them from unmuting; anyone else only themself).
   * Rejects with the gateway's typed error (NOT_CONFERENCE_HOST, MUTE_LOCKED).
   */
  async mute(userId: string, kind: MuteKind, locked = false): Promise<void> {
    await this.signalling.request('media:mute', { conferenceId: this.conferenceId, userId, kind, ...(locked ? { locked } : {}) });
  }

  async unmute(userId: string, kind: MuteKind): Promise<void> {
    await this.signalling.request('media:unmute', { conferenceId: this.conferenceId, userId, kind });
  }

  /**
   * Records a mute; one of yours also turns the local track off (it is paused
   * at the SFU already, and a direct path to a peer does not pass the SFU).
   */
  #setMute(userId: string, kind: MuteKind, state: MuteState): void {
    const entry = this.mutes.get(userId) ?? {};
    entry[kind] = state;
    this.mutes.set(userId, entry);
    if (userId !== this.userId || kind === 'screen') return;
    for (const track of this.#local?.getTracks() ?? []) if (track.kind === kind) track.enabled = !state.muted;
  }

  async leave(): Promise<void> {
    await this.stopScreen();
    this.#joined = false;
    this.#cancelRetry();
    clearInterval(this.#pathTimer);
    this.#pathTimer = undefined;
    clearInterval(this.#statsTimer);
    this.#statsTimer = undefined;
    this.p2p?.close();
    this.p2p = undefined;
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
      // A direct path carries this participant's media: the SFU transport (a composed program) does not name the rung.
      if (!path || !this.conferenceId || this.p2p?.connected) return;
      this.path = path;
      await this.signalling.request('media:path', { conferenceId: this.conferenceId, path });
      this.#changed();
    } catch (error) {
      console.warn(`could not report the media path: ${(error as Error).message}`);
    }
  }

  async #consume(producerId: string, userId: string, via?: string): Promise<void> {
    if (!this.recvTransport) return;
    const params = await this.signalling.request<{ consumerId: string; producerId: string; kind: types.MediaKind; rtpParameters: types.RtpParameters }>(
      'media:consume',
      { producerId, rtpCapabilities: this.device.rtpCapabilities },
    );
    const consumer = await this.recvTransport.consume({ id: params.consumerId, producerId: params.producerId, kind: params.kind, rtpParameters: params.rtpParameters });
    consumer.appData.userId = userId;
    this.consumers.set(consumer.id, consumer);
    this.#remote(userId, via ?? (userId.endsWith(':screen') ? 'screen' : 'webrtc')).stream.addTrack(consumer.track);
    await this.signalling.request('media:resumeConsumer', { consumerId: consumer.id });
    this.#changed();
  }

  #dropConsumer(consumerId: string): void {
    const consumer = this.consumers.get(consumerId);
    if (!consumer) return;
    this.consumers.delete(consumerId);
    const remote = this.remotes.get(consumer.appData.userId as string);
    remote?.stream.removeTrack(consumer.track);
    // A screen share that ended leaves no empty tile behind.
    if (remote && remote.via === 'screen' && remote.stream.getTracks().length === 0) this.remotes.delete(remote.userId);
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

  /** Whether this page is sharing a screen now. */
  get sharing(): boolean {
    return this.#screen !== undefined;
  }

  /**
   * Shares a screen (getDisplayMedia) as a second video producer of kind
   * screen (`appData.source: "screen"`), with its sound when the browser
   * gives one: one layer up to 1920x1080 at 15 fps and 2.5 Mbit/s, tuned for
   * detail (text stays readable, the frame rate gives way first). Sent to the
   * SFU even while a direct path carries the camera, since the mix and every
   * other participant need it. Ends when stopScreen() is called or the
   * browser's own "stop sharing" ends the track.
   */
  async shareScreen(): Promise<void> {
    if (this.#screen || this.#picking || !this.conferenceId) return;
    // One picker at a time (a second click while the browser asks does nothing).
    this.#picking = true;
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { width: { max: 1920 }, height: { max: 1080 }, frameRate: { max: 15 } }, audio: true });
    } finally {
      this.#picking = false;
    }
    const screen = { stream, producers: [] as types.Producer[] };
    this.#screen = screen;
    for (const track of stream.getTracks()) {
      if (track.kind === 'video') track.contentHint = 'detail';
      track.addEventListener('ended', () => void this.stopScreen());
    }
    try {
      await this.#produceScreen(screen);
    } catch (error) {
      await this.stopScreen();
      throw error;
    }
    this.#changed();
  }

  /**
   * Sends the share's tracks, adding each producer to `screen` as it is made. A share stopped
   * meanwhile (the host's stopShare, the browser's own stop, a leave) has its late producers closed
   * here, on the server too, rather than left behind.
   */
  async #produceScreen(screen: { stream: MediaStream; producers: types.Producer[] }): Promise<void> {
    this.sendTransport ??= await this.#createTransport('send');
    screen.producers = [];
    for (const track of screen.stream.getTracks()) {
      if (track.readyState !== 'live') continue;
      const { width, height } = track.getSettings();
      const producer = await this.sendTransport.produce({
        track,
        stopTracks: false,
        appData: { source: 'screen', ...(width && height ? { width, height } : {}) },
        ...(track.kind === 'video' ? { encodings: [{ maxBitrate: 2_500_000, maxFramerate: 15 }], codecOptions: { videoGoogleStartBitrate: 1000 } } : { codecOptions: { opusFec: true } }),
      });
      if (this.#screen !== screen) {
        producer.close();
        await this.signalling.request('media:closeProducer', { producerId: producer.id }).catch(() => undefined);
        return;
      }
      screen.producers.push(producer);
    }
  }

  async stopScreen(): Promise<void> {
    const screen = this.#screen;
    if (!screen) return;
    this.#screen = undefined;
    for (const producer of screen.producers) {
      producer.close();
      await this.signalling.request('media:closeProducer', { producerId: producer.id }).catch(() => undefined);
    }
    for (const track of screen.stream.getTracks()) track.stop();
    this.#changed();
  }
}

/** The tile a participant's screen share is shown in (the mix names its cell the same way). */
export const screenTile = (userId: string) => `${userId}:screen`;

/**
 * What every producer of this page sends a track with. stopTracks: false, so a rejoin (after a worker died)
 * can send the same tracks again; the page stops them when it leaves. With resilience (issue 17), audio
 * carries Opus in-band FEC (each packet holds a coarse copy of the one before, so a receiver that decodes
 * it rebuilds a single lost packet: browsers do; ffmpeg's Opus decoders, the mixer's, do not) and a camera
 * goes as simulcast, a half-size layer under the full one. DTX only when asked (see the option). The track's size
 * rides in appData: the gateway picks the layer that fits a mix cell from it (libs/mixing/src/layers.ts).
 * Video retransmissions (NACK/RTX) are on either way: the SFU negotiates them for every video codec.
 */
export function produceOptions(track: MediaStreamTrack, o: { resilience: boolean; simulcast: boolean; dtx: boolean }): types.ProducerOptions {
  if (track.kind === 'audio') return { track, stopTracks: false, codecOptions: { opusFec: o.resilience, opusDtx: o.dtx } };
  const { width, height } = track.getSettings();
  const appData = width && height ? { width, height } : {};
  if (!o.simulcast) return { track, stopTracks: false, appData };
  return { track, stopTracks: false, appData, encodings: SIMULCAST, codecOptions: { videoGoogleStartBitrate: 1000 } };
}

/**
 * Two layers, low first (mediasoup's spatial layer 0). The half-size one fits a 300 kbps uplink with
 * room for audio; Chromium stops sending the full one when its bandwidth estimate cannot carry both.
 */
const SIMULCAST: types.RtpEncodingParameters[] = [
  { scaleResolutionDownBy: 2, maxBitrate: 200_000 },
  { scaleResolutionDownBy: 1, maxBitrate: 1_200_000 },
];
