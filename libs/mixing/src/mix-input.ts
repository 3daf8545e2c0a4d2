import type { types } from 'mediasoup';
import { LineLogger, SupervisedProcess } from '@gw/common';
import type { Conference } from '@gw/conference';
import { buildDecoderArgs, buildSdp, parsePictureTimestamp } from './ffmpeg-args';
import type { Fit } from './layout';
import { layerForCell } from './layers';
import { PcmFrames } from './pcm-frames';
import { closeServiceTracks, describeServiceTracks, openServiceTracks, ServiceTrack, serviceTrackProducers } from './service-tracks';
import { pairFree, UdpPortAllocator } from './udp-ports';
import { PerSecond } from './per-second';
import { i420Size, YuvFrame } from './yuv-frame';
import { deliveredAtPace, PACE_PICTURES, VideoPlayout } from './video-playout';

/**
 * What ffmpeg's video depacketizers and decoders print when a picture is broken for want of a packet that
 * never came (after the reorder wait): VP8's "Missed a picture, sequence broken", "Received no start
 * marker; dropping frame", H.264's "error while decoding MB", "concealing". Not the demuxer's "RTP: missed
 * N packets": that one is printed for audio too, where a keyframe would not help.
 */
export const BROKEN_PICTURE = /sequence broken|dropping frame|error while decoding|concealing/i;
/** At most one keyframe request per this, after a loss (a keyframe takes a round trip and an encode). */
const KEYFRAME_AFTER_LOSS_MS = 300;
/** How long a decoded picture waits for its timestamp line before it is shown without one. */
const TIMESTAMP_WAIT_MS = 30;
/** Pictures waiting for their turn, at most (0.3 s of hold at 30 fps, and some). */
const MAX_QUEUED_PICTURES = 16;

export interface CellSize {
  width: number;
  height: number;
  fit: Fit;
}

export interface MixInputOptions {
  taskId: string;
  conference: Conference;
  userId: string;
  producers: { audio?: string; video?: string };
  cell: CellSize;
  fps: number;
  audio: { sampleRate: number; channels: number };
  ports: UdpPortAllocator;
  ffmpegPath: string;
  logger: LineLogger;
  /** A picture was decoded (it is shown when pictureAt says so). */
  onFrame: () => void;
  onAudio: (pcm: Buffer) => void;
  /**
   * Its consumers went away while the participant may still be there (the SFU
   * worker under the mixer's transport died): the owner makes a new input.
   */
  onLost?: () => void;
  /** The participant's audio was paused at the SFU (muted): what the mixer holds of it should not play. */
  onAudioPaused?: () => void;
}


/**
 * One participant as seen by a mix task: PlainTransport consumers of their
 * audio and video, and a supervised decoder that turns the RTP into raw cells
 * and PCM. The decoders are isolated per participant and per kind, so a
 * stalled or broken sender never holds up the mix, and a silent one never
 * holds up its own picture. When a decoder dies, or the cell size changes
 * (video), only that decoder restarts; the consumers stay, and a keyframe is
 * requested until the new video decoder shows a picture.
 */
/** How long past its probe a decoder may take to show a first picture while its video arrives (a GOP or two). */
const BLIND_GRACE_MS = 3000;
/** A mute longer than this gets a fresh audio decoder on unmute (see the producerresume handler). */
const LONG_AUDIO_PAUSE_MS = 5000;

export class MixInput {
  readonly #tracks: ServiceTrack[] = [];
  /** The video decoder (restarted on a new cell size); the audio has its own, so neither holds up the other. */
  #decoder: SupervisedProcess | undefined;
  #audioDecoder: SupervisedProcess | undefined;
  #audioGeneration = 0;
  #audioRestartTimer: NodeJS.Timeout | undefined;
  #audioPausedAt = 0;
  #cell: CellSize;
  /** The simulcast layer asked of the SFU for this cell (undefined: one-layer source). */
  #preferred: number | undefined;
  #stopped = false;
  #generation = 0;
  #keyframeTimer: NodeJS.Timeout | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #blindTimer: NodeJS.Timeout | undefined;
  #lastFrameAt = 0;
  /** Decoders that died before showing a picture since the last one did (each waits longer; see #probeMs). */
  #blindDeaths = 0;
  #lastLossKeyframeAt = 0;
  /** Keyframes asked for because the decoder lost a packet (GET /mix-tasks/:id `pictures[u].keyframesAfterLoss`). */
  keyframesAfterLoss = 0;
  #pictureThisDecoder = false;
  readonly #decoded = new PerSecond();
  /** When each decoded picture is shown: by its sender's timestamp (video-playout.ts). */
  readonly #playout = new VideoPlayout();
  /** This decoder's last pictures (arrival, sender timestamp), to tell a decoder racing through a backlog (deliveredAtPace). */
  #pace: { arrival: number; pts: number }[] = [];
  /** A picture without a timestamp came: its pace cannot be told. */
  #unstamped = false;
  /** Decoded pictures not yet due, in order, with when they are due (performance.now()). */
  #queue: { due: number; frame: YuvFrame }[] = [];
  /** The picture shown now (the compositor copies it on each tick). */
  #current: YuvFrame | undefined;
  /** Picture buffers free for the decoder to fill (of the current decoder's size). */
  #pool: Buffer[] = [];

  private constructor(private readonly o: MixInputOptions) {
    this.#cell = o.cell;
  }

  static async start(options: MixInputOptions): Promise<MixInput> {
    const input = new MixInput(options);
    try {
      await openServiceTracks(options.conference, options.ports, options.producers, input.#tracks);
      for (const track of input.#tracks) {
        track.consumer.observer.once('close', () => {
          if (!input.#stopped) options.onLost?.();
        });
        if (track.kind === 'audio') {
          track.consumer.on('producerpause', () => {
            input.#audioPausedAt = Date.now();
            if (!input.#stopped) options.onAudioPaused?.();
          });
          // Back from a long mute: a fresh audio decoder. The running one would fill the whole gap in
          // the RTP timestamps with silence at once (aresample async), ~11 MB a minute for Node to read.
          track.consumer.on('producerresume', () => {
            const pausedFor = Date.now() - input.#audioPausedAt;
            if (!input.#stopped && pausedFor > LONG_AUDIO_PAUSE_MS) void input.#restartAudioDecoder().catch((e: Error) => options.logger.error(e.message));
          });
        }
      }
      await input.#preferLayer();
      await input.#startDecoder();
      await input.#startAudioDecoder();
      for (const track of input.#tracks) await track.consumer.resume();
    } catch (error) {
      await input.stop();
      throw error;
    }
    return input;
  }

  /** The video track, when the participant sends video. */
  get #video(): ServiceTrack | undefined {
    return this.#tracks.find((t) => t.kind === 'video');
  }

  get userId(): string {
    return this.o.userId;
  }

  /** The video decoder's pid (the audio one's for a participant without video). */
  get pid(): number | undefined {
    if (!this.#tracks.some((t) => t.kind === 'video')) return this.audioPid;
    return this.#decoder?.running ? this.#decoder.pid : undefined;
  }

  /** The audio decoder's pid, when the participant sends audio. */
  get audioPid(): number | undefined {
    return this.#audioDecoder?.running ? this.#audioDecoder.pid : undefined;
  }

  /** The audio consumer's producer in the mixer's router (for the active-speaker observer). */
  get audioProducerId(): string | undefined {
    return this.#tracks.find((t) => t.kind === 'audio')?.consumer.producerId;
  }

  get producerIds(): { audio?: string; video?: string } {
    return serviceTrackProducers(this.#tracks);
  }

  /** True when a consumer of this input has closed (its producer or its transport went away). */
  get lost(): boolean {
    return this.#tracks.some((t) => t.consumer.closed);
  }

  get lastFrameAt(): number {
    return this.#lastFrameAt;
  }

  /**
   * The picture to draw for the output frame due at atMs (performance.now()): the newest decoded one
   * whose turn has come. Pictures it passes over go back to the decoder's pool; the one returned is
   * not written again until a newer one replaces it, so a caller copies it before its next call.
   */
  pictureAt(atMs: number): YuvFrame | undefined {
    while (this.#queue.length && this.#queue[0].due <= atMs) {
      this.#release(this.#current);
      this.#current = this.#queue.shift()!.frame;
    }
    return this.#current;
  }

  /**
   * True once the decoder delivers at the sender's pace: its latest picture
   * is a recent moment, not part of a backlog it is still racing through
   * (a splice onto the mix waits for this, so it never starts on a stale picture).
   */
  get caughtUp(): boolean {
    return this.#unstamped || deliveredAtPace(this.#pace);
  }

  /** How long this participant's pictures are held for their spacing now (ms), and how many came late for it. */
  get playout(): { holdMs: number; late: number } {
    return { holdMs: this.#playout.holdMs, late: this.#playout.late };
  }

  #release(frame: YuvFrame | undefined): void {
    if (frame && frame.data.length === i420Size(this.#cell.width, this.#cell.height) && this.#pool.length < 4) this.#pool.push(frame.data);
  }

  /** Decoded pictures per second, over the last second. */
  get fps(): number {
    return this.#decoded.rate();
  }

  get router(): types.Router | undefined {
    return this.#tracks[0]?.transport.appData.router as types.Router | undefined;
  }

  /**
   * True while the participant's camera is paused at the SFU (muted by the host or by itself): its
   * cell shows the placeholder at once, not its last picture frozen until the stall timeout.
   */
  get videoPaused(): boolean {
    const video = this.#video;
    return video !== undefined && !video.consumer.closed && video.consumer.producerPaused;
  }

  /** Asks the sender for a keyframe (a stalled picture may be waiting for one). */
  requestKeyframe(): void {
    const video = this.#video;
    void video?.consumer.requestKeyFrame().catch(() => undefined);
  }

  /** Keyframe requests after a loss, at most one per KEYFRAME_AFTER_LOSS_MS (a loss burst is one request). */
  #keyframeAfterLoss(): void {
    const now = Date.now();
    if (now - this.#lastLossKeyframeAt < KEYFRAME_AFTER_LOSS_MS) return;
    this.#lastLossKeyframeAt = now;
    this.keyframesAfterLoss += 1;
    this.requestKeyframe();
  }

  /** A new cell size needs a decoder scaled for it. */
  async resize(cell: CellSize): Promise<void> {
    if (cell.width === this.#cell.width && cell.height === this.#cell.height && cell.fit === this.#cell.fit) return;
    this.#cell = cell;
    if (!this.#tracks.some((t) => t.kind === 'video')) return;
    await this.#preferLayer();
    await this.#restartDecoder('cell resized');
  }

  /**
   * A simulcast sender's layers, when it has them: the one this cell asked for
   * (libs/mixing/src/layers.ts) and the one arriving (lower while the sender
   * cannot send it, e.g. on a 300 kbps uplink).
   */
  get layers(): { preferred: number; current?: number } | undefined {
    const video = this.#video;
    if (!video || video.consumer.type !== 'simulcast' || this.#preferred === undefined) return undefined;
    return { preferred: this.#preferred, current: video.consumer.currentLayers?.spatialLayer };
  }

  /** Asks the SFU for the layer that fits the cell, so the decoder does not decode pictures it would shrink. */
  async #preferLayer(): Promise<void> {
    const video = this.#video;
    if (!video || video.consumer.type !== 'simulcast' || video.consumer.closed) return;
    const source = this.o.conference.videoSource(video.consumer.producerId);
    const layer = source && layerForCell(source, this.#cell);
    if (layer === undefined || layer === this.#preferred) return;
    this.#preferred = layer;
    await video.consumer.setPreferredLayers({ spatialLayer: layer }).catch(() => undefined);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#keyframeTimer);
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#audioRestartTimer);
    clearTimeout(this.#blindTimer);
    closeServiceTracks(this.#tracks, this.o.ports);
    await Promise.all([this.#decoder?.stop(), this.#audioDecoder?.stop()]);
  }

  async #restartDecoder(reason: string): Promise<void> {
    const old = this.#decoder;
    this.#decoder = undefined;
    await old?.stop();
    if (this.#stopped) return;
    this.o.logger.debug(`mix ${this.o.taskId}: restarting decoder of ${this.o.userId} (${reason})`);
    await this.#startDecoder();
  }

  /** One decoder process for one kind: RTP of that kind's track in, raw pictures or PCM out. */
  #spawnDecoder(kind: 'audio' | 'video'): Promise<SupervisedProcess> {
    const streams = describeServiceTracks(this.#tracks).filter((st) => st.kind === kind);
    return SupervisedProcess.start({
      name: `mix:${this.o.taskId}:decode${kind === 'audio' ? '-audio' : ''}:${this.o.userId}`,
      command: this.o.ffmpegPath,
      args:
        kind === 'video'
          ? buildDecoderArgs({ videoSdp: buildSdp(streams), video: { ...this.#cell, fps: this.o.fps }, probeMs: this.#probeMs() })
          : buildDecoderArgs({ audioSdp: buildSdp(streams), audio: this.o.audio, probeMs: this.#probeMs() }),
      readiness: { kind: 'spawn' },
      rawStdout: true,
      // fd 3: the PCM (audio), the pictures' timestamps (video).
      extraPipes: 1,
      stderrWarnPattern: /error|invalid/i,
      // A decoder holds nothing worth flushing, and one whose RTP stopped (its sender or worker gone)
      // sits in a blocking read that SIGTERM does not end: a short grace keeps input changes quick.
      stopTimeoutMs: 300,
      logger: this.o.logger,
    });
  }

  /**
   * The video decoder. The audio is decoded by another process (#startAudioDecoder): in one ffmpeg
   * with both inputs, a participant whose audio stopped (muted, or Opus DTX in a pause) got no
   * picture either (0 distinct pictures a second while muted, measured at a viewer), because ffmpeg
   * paces its outputs together; and a new cell size restarted the sound with the picture.
   */
  async #startDecoder(): Promise<void> {
    if (!this.#tracks.some((t) => t.kind === 'video')) return;
    const generation = ++this.#generation;
    const video = { ...this.#cell, fps: this.o.fps };
    const decoder = await this.#spawnDecoder('video');
    if (this.#stopped || generation !== this.#generation) {
      await decoder.stop();
      return;
    }
    this.#decoder = decoder;
    this.#pictureThisDecoder = false;
    // A new decoder's pictures: a new timeline (its queue is dropped; the picture shown stays until replaced).
    this.#playout.reset();
    this.#pace = [];
    this.#unstamped = false;
    this.#queue = [];
    this.#pool = [];
    this.#readFrames(decoder, video.width, video.height);
    decoder.once('died', () => {
      if (this.#stopped || this.#decoder !== decoder) return;
      this.#decoder = undefined;
      clearTimeout(this.#blindTimer);
      if (!this.#pictureThisDecoder) this.#blindDeaths += 1;
      this.#restartTimer = setTimeout(() => void this.#afterDeath('video').catch((e: Error) => this.o.logger.error(e.message)), 200);
    });
    this.#askForKeyframes();
    void this.#watchBlind(decoder);
    // A packet that never came breaks the picture until the next keyframe (VP8 and H.264 alike):
    // ask for one at once, as a WebRTC receiver sends a PLI, rather than wait for the stall watchdog.
    decoder.on('stderrLine', (line) => {
      if (this.#decoder === decoder && BROKEN_PICTURE.test(line)) this.#keyframeAfterLoss();
    });
  }

  async #restartAudioDecoder(): Promise<void> {
    const old = this.#audioDecoder;
    this.#audioDecoder = undefined;
    await old?.stop();
    if (!this.#stopped) await this.#startAudioDecoder();
  }

  /** The audio decoder: started once, and again when it dies or after a long mute. */
  async #startAudioDecoder(): Promise<void> {
    if (!this.#tracks.some((t) => t.kind === 'audio')) return;
    const generation = ++this.#audioGeneration;
    const decoder = await this.#spawnDecoder('audio');
    if (this.#stopped || generation !== this.#audioGeneration) {
      await decoder.stop();
      return;
    }
    this.#audioDecoder = decoder;
    // Whole sample frames only: this decoder's output may end mid-frame when it is replaced (see PcmFrames).
    const frames = new PcmFrames(2 * this.o.audio.channels);
    decoder.pipe(0).on('data', (pcm: Buffer) => {
      const whole = frames.push(pcm);
      if (whole && this.#audioDecoder === decoder) this.o.onAudio(whole);
    });
    decoder.once('died', () => {
      if (this.#stopped || this.#audioDecoder !== decoder) return;
      this.#audioDecoder = undefined;
      this.#audioRestartTimer = setTimeout(() => void this.#afterDeath('audio').catch((e: Error) => this.o.logger.error(e.message)), 200);
    });
  }

  /**
   * A decoder died: start it again, unless another process took its ports
   * meanwhile (the ports are in the kernel's ephemeral range, and any
   * process's outgoing UDP socket, an ingest ffmpeg's say, can be given one
   * between the decoder's exit and its restart): then no decoder could ever
   * bind them again, and the participant's cell stayed empty for good (seen
   * once in a bypass E2E, 31 s without a picture). Its consumers are closed
   * instead, so the mix consumes it again on fresh ports (onLost).
   */
  async #afterDeath(kind: 'audio' | 'video'): Promise<void> {
    const running = () => (kind === 'video' ? this.#decoder : this.#audioDecoder);
    if (this.#stopped || running()) return;
    const taken = [];
    for (const track of this.#tracks) if (track.kind === kind && !(await pairFree(track.port))) taken.push(track.port);
    if (this.#stopped || running()) return;
    if (taken.length) {
      this.o.logger.warn(`mix ${this.o.taskId}: the decoder ports ${taken.join(', ')} of ${this.o.userId} are held by another process; consuming it again on new ports`);
      for (const track of this.#tracks) track.consumer.close();
      return;
    }
    await (kind === 'video' ? this.#startDecoder() : this.#startAudioDecoder());
  }

  /**
   * A decoder that lives but shows no picture while its video RTP arrives
   * (an RTMP participant's cell stayed empty for a whole E2E run now and
   * then: 1 run in 4 of a mix of two RTMP participants) is started again
   * as a blind death, with a longer probe. A sender that sends no video (a
   * camera turned off) is left alone.
   */
  async #watchBlind(decoder: SupervisedProcess): Promise<void> {
    const video = this.#video;
    if (!video) return;
    const bytes = async () => ((await video.consumer.getStats().catch(() => [])) as { byteCount?: number }[]).reduce((n, s) => n + (s.byteCount ?? 0), 0);
    const startBytes = await bytes();
    clearTimeout(this.#blindTimer);
    if (this.#stopped || this.#decoder !== decoder) return;
    this.#blindTimer = setTimeout(async () => {
      if (this.#stopped || this.#decoder !== decoder || this.#pictureThisDecoder) return;
      if ((await bytes()) <= startBytes) return void this.#watchBlind(decoder);
      if (this.#stopped || this.#decoder !== decoder || this.#pictureThisDecoder) return;
      this.#blindDeaths += 1;
      this.o.logger.warn(`mix ${this.o.taskId}: the decoder of ${this.o.userId} showed no picture while its video arrived; starting it again`);
      await this.#restartDecoder('no picture').catch((e: Error) => this.o.logger.error(e.message));
    }, this.#probeMs() + BLIND_GRACE_MS);
  }

  /**
   * Half a second of probing for a participant fed by the gateway's RTMP ingest (its RTP starts with
   * a keyframe and the origin's cached GOP arrives at once), 2 s for anyone else. With 2 s, a
   * re-ingested participant reached the picture ~1.5 s later after a worker died.
   */
  #probeMs(): number {
    const ids = Object.values(this.producerIds).filter((id): id is string => Boolean(id));
    const base = ids.length > 0 && ids.every((id) => this.o.conference.fromIngest(id)) ? 500 : 2000;
    // A decoder that started mid-GOP gives up ("Invalid data found") when no keyframe came within its
    // probe, and a passed-through push cannot answer a keyframe request: at 500 ms each, a bypass mix's
    // decoder failed 125 times in a row against a 1 s GOP. Each blind death waits 4x longer, up to 8 s
    // (OBS's GOP is 2 s by default and may be longer).
    return Math.min(8000, base * 4 ** Math.min(this.#blindDeaths, 3));
  }

  /**
   * Splits the decoder's stdout into whole frames of the cell's size, copying each chunk once into the
   * frame it belongs to (no concatenation), pairs each with its timestamp (fd 3: the n-th line is the
   * n-th picture; it is written before the picture, but the two pipes are read in either order) and
   * queues it for its turn. Buffers are reused (a fresh one per picture cost the gateway a quarter
   * of its CPU in garbage collection on a 2-party mix, by profile).
   */
  #readFrames(decoder: SupervisedProcess, width: number, height: number): void {
    const size = i420Size(width, height);
    const stamps = new Map<number, number>();
    const waiting: { n: number; frame: YuvFrame; arrival: number }[] = [];
    let waitTimer: NodeJS.Timeout | undefined;
    let pictures = 0;
    const show = (frame: YuvFrame, ptsMs: number | undefined, arrival: number) => {
      if (this.#decoder !== decoder) return;
      const due = this.#playout.schedule(ptsMs, arrival);
      if (ptsMs === undefined) this.#unstamped = true;
      else {
        this.#pace.push({ arrival, pts: ptsMs });
        if (this.#pace.length > PACE_PICTURES) this.#pace.shift();
      }
      this.#queue.push({ due, frame });
      while (this.#queue.length > MAX_QUEUED_PICTURES) this.#release(this.#queue.shift()!.frame);
    };
    const flush = (withoutStamp: boolean) => {
      while (waiting.length && (withoutStamp || stamps.has(waiting[0].n))) {
        const w = waiting.shift()!;
        const pts = stamps.get(w.n);
        stamps.delete(w.n);
        show(w.frame, pts, w.arrival);
      }
      clearTimeout(waitTimer);
      waitTimer = waiting.length ? setTimeout(() => flush(true), TIMESTAMP_WAIT_MS) : undefined;
    };
    let lines = '';
    decoder.pipe(0).on('data', (chunk: Buffer) => {
      lines += chunk.toString('latin1');
      let nl: number;
      while ((nl = lines.indexOf('\n')) >= 0) {
        const stamp = parsePictureTimestamp(lines.slice(0, nl));
        lines = lines.slice(nl + 1);
        // A line for a picture already shown without it is dropped.
        if (stamp && stamp.n >= pictures - waiting.length) stamps.set(stamp.n, stamp.seconds * 1000);
      }
      if (stamps.size > 64) for (const n of stamps.keys()) if (n < pictures - waiting.length) stamps.delete(n);
      if (lines.length > 4096) lines = '';
      if (waiting.length) flush(false);
    });
    decoder.once('died', () => clearTimeout(waitTimer));
    let frame: Buffer = this.#pool.pop() ?? Buffer.allocUnsafe(size);
    let filled = 0;
    decoder.stdout.on('data', (chunk: Buffer) => {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(size - filled, chunk.length - offset);
        chunk.copy(frame, filled, offset, offset + n);
        filled += n;
        offset += n;
        if (filled === size) {
          const arrival = performance.now();
          if (this.#decoder === decoder) {
            this.#pictureThisDecoder = true;
            this.#blindDeaths = 0;
            this.#lastFrameAt = Date.now();
            this.#decoded.record(this.#lastFrameAt);
            clearInterval(this.#keyframeTimer);
            this.o.onFrame();
          }
          waiting.push({ n: pictures, frame: { width, height, data: frame }, arrival });
          pictures += 1;
          flush(false);
          frame = (this.#decoder === decoder && this.#pool.pop()) || Buffer.allocUnsafe(size);
          filled = 0;
        }
      }
    });
  }

  /**
   * A fresh decoder shows nothing until a keyframe: ask now and every 500 ms
   * until the first frame arrives (RTMP-ingest senders ignore the request, but
   * send a keyframe every second anyway).
   */
  #askForKeyframes(): void {
    const video = this.#video;
    if (!video) return;
    clearInterval(this.#keyframeTimer);
    const startedAt = Date.now();
    const ask = () => {
      if (this.#stopped || Date.now() - startedAt > 10000) return clearInterval(this.#keyframeTimer);
      void video.consumer.requestKeyFrame().catch(() => undefined);
    };
    ask();
    this.#keyframeTimer = setInterval(ask, 500);
  }
}
