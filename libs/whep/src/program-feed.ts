import { LineLogger, startFfmpeg, SupervisedProcess } from '@gw/common';
import { FLV_SCRIPT, FLV_VIDEO, FlvTag, FlvTagReader, isCodecConfig, isVideoKeyframe, withTimestamp } from '@gw/live';
import { buildProgramFeedArgs, FEED_CODECS, FeedRtpTarget, fitsRouter } from './program-feed-args';
import { RtpRelay } from './rtp-relay';

/** Where the feed gets the program's tags: ProgramService's tap and snapshot. */
export interface ProgramTaps {
  tap(channelId: string, listener: (tag: FlvTag) => void): () => void;
  snapshot(channelId: string): Buffer | null;
}

export interface ProgramFeedOptions {
  channelId: string;
  programs: ProgramTaps;
  ffmpegPath: string;
  audio: FeedRtpTarget;
  video: FeedRtpTarget;
  logger: LineLogger;
}

/** Header of an FLV with audio and video (the program's). */
const FLV_HEADER = Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);
/** Bytes ffmpeg may leave unread on its stdin before the feed skips to the next keyframe. */
const BACKLOG_LIMIT = 2 * 1024 * 1024;
/** A feed whose ffmpeg died waits this long before the next keyframe may start another. */
const RESTART_DELAY_MS = 1000;

/**
 * A channel's program carried into the SFU: the program's FLV tags, from a
 * keyframe on, into one supervised ffmpeg that sends Opus + H.264 RTP to a
 * PlainTransport pair. H.264 that fits the router is passed through;
 * anything else is transcoded. When the program's codec config changes which
 * of the two it needs (a co-hosting mix in High profile replacing a baseline
 * host), ffmpeg is started again in the other mode at the next keyframe, from
 * the same ports with the same SSRCs, so the producers (and the viewers'
 * consumers) stay. Its RTP goes through an RtpRelay per stream, which makes
 * the new ffmpeg's sequence numbers and timestamps continue the old one's
 * (players froze for seconds on the jump). Owns its ffmpeg and relays;
 * stop() is idempotent.
 */
export class ProgramFeed {
  #metadata: FlvTag | undefined;
  readonly #configs = new Map<number, FlvTag>();
  #untap: (() => void) | undefined;
  #process: SupervisedProcess | undefined;
  /** True while a process is wanted but the next keyframe has not come (the feed starts at one). */
  #waitingForKeyframe = true;
  #copyVideo: boolean | undefined;
  #notBefore = 0;
  /** Tags for an ffmpeg that is about to start (set from its keyframe until it is spawned). */
  #queue: Buffer[] | undefined;
  #queued = 0;
  /** Resolves once every replaced ffmpeg has exited. */
  #exiting: Promise<void> = Promise.resolve();
  /** Bumped by every replacement: a start of an older generation gives up. */
  #generation = 0;
  #starts = 0;
  #stopped = false;
  #relays: { audio: RtpRelay; video: RtpRelay } | undefined;

  constructor(private readonly o: ProgramFeedOptions) {}

  /** The ffmpeg's pid while it runs. */
  get pid(): number | undefined {
    return this.#process?.running ? this.#process.pid : undefined;
  }

  /** Whether the program's H.264 goes through as it is (undefined before the first start). */
  get passthrough(): boolean | undefined {
    return this.#copyVideo;
  }

  /** How many ffmpeg processes this feed started. */
  get starts(): number {
    return this.#starts;
  }

  /** Opens the relays, learns the program's codec configs from its snapshot and listens to its tags; ffmpeg starts at the next keyframe. */
  async start(): Promise<void> {
    if (this.#stopped || this.#untap || this.#relays) return;
    const audio = await RtpRelay.open(this.o.audio, FEED_CODECS.audio.clockRate);
    const video = await RtpRelay.open(this.o.video, FEED_CODECS.video.clockRate).catch((error: Error) => {
      audio.close();
      throw error;
    });
    this.#relays = { audio, video };
    if (this.#stopped) return this.#closeRelays();
    const snapshot = this.o.programs.snapshot(this.o.channelId);
    if (snapshot) for (const tag of new FlvTagReader().push(snapshot)) this.#remember(tag);
    this.#untap = this.o.programs.tap(this.o.channelId, (tag) => {
      try {
        this.#onTag(tag);
      } catch (error) {
        this.o.logger.error(`whep feed ${this.o.channelId}: ${(error as Error).message}`);
      }
    });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#untap?.();
    this.#replace();
    await this.#exiting;
    this.#closeRelays();
  }

  #closeRelays(): void {
    this.#relays?.audio.close();
    this.#relays?.video.close();
  }

  #remember(tag: FlvTag): void {
    if (tag.type === FLV_SCRIPT) this.#metadata = tag;
    else if (isCodecConfig(tag)) this.#configs.set(tag.type, tag);
  }

  #onTag(tag: FlvTag): void {
    if (this.#stopped) return;
    this.#remember(tag);
    if (tag.type === FLV_VIDEO && isCodecConfig(tag) && !this.#waitingForKeyframe && fitsRouter(tag.raw) !== this.#copyVideo) {
      // The next picture needs the other mode: a new ffmpeg from its keyframe (which follows its config).
      this.o.logger.log(`whep feed ${this.o.channelId}: the program's H.264 now ${fitsRouter(tag.raw) ? 'fits the router' : 'needs transcoding'}; restarting at the next keyframe`);
      this.#replace();
    }
    if (this.#waitingForKeyframe) {
      const video = this.#configs.get(FLV_VIDEO);
      if (!isVideoKeyframe(tag) || !video || Date.now() < this.#notBefore) return;
      this.#spawn(video, tag);
      return;
    }
    if (this.#queue) {
      // The new ffmpeg is not there yet (the old one still holds the ports): keep the tags for it.
      this.#queue.push(tag.raw);
      this.#queued += tag.raw.length;
      if (this.#queued > BACKLOG_LIMIT) this.#replace();
      return;
    }
    const process = this.#process;
    if (!process) return;
    if (process.stdin.writableLength > BACKLOG_LIMIT) {
      this.o.logger.warn(`whep feed ${this.o.channelId}: ffmpeg is not keeping up; skipping to the next keyframe`);
      this.#replace();
      return;
    }
    process.stdin.write(tag.raw);
  }

  /** Ends the running (or starting) ffmpeg; the next keyframe starts a new one once it is gone. */
  #replace(): void {
    this.#generation += 1;
    this.#queue = undefined;
    this.#waitingForKeyframe = true;
    const old = this.#process;
    this.#process = undefined;
    if (old) {
      // The end of its input ends ffmpeg within milliseconds (blocked on a pipe read, it would sit out
      // a SIGTERM until the SIGKILL); stop() reaps it, or kills it if it lingers.
      old.stdin.end();
      const exiting = old.stop().then(() => undefined, () => undefined);
      this.#exiting = Promise.all([this.#exiting, exiting]).then(() => undefined);
    }
  }

  /**
   * A new ffmpeg, fed the FLV header, metadata, codec configs and this keyframe
   * first, then what came meanwhile. It starts once the previous one has exited:
   * both send from the feed's fixed ports.
   */
  #spawn(videoConfig: FlvTag, keyframe: FlvTag): void {
    this.#waitingForKeyframe = false;
    const generation = this.#generation;
    const copyVideo = fitsRouter(videoConfig.raw);
    this.#copyVideo = copyVideo;
    this.#starts += 1;
    const queue: Buffer[] = [FLV_HEADER];
    if (this.#metadata) queue.push(withTimestamp(this.#metadata, keyframe.timestamp).raw);
    for (const config of this.#configs.values()) queue.push(withTimestamp(config, keyframe.timestamp).raw);
    queue.push(keyframe.raw);
    this.#queue = queue;
    this.#queued = 0;
    const relays = this.#relays!;
    // ffmpeg sends to the relays, which send on to the transports.
    const viaRelay = (target: FeedRtpTarget, relay: RtpRelay): FeedRtpTarget => ({ ...target, port: relay.rtpPort, rtcpPort: relay.rtcpPort });
    const args = buildProgramFeedArgs({ audio: viaRelay(this.o.audio, relays.audio), video: viaRelay(this.o.video, relays.video), copyVideo });
    const current = () => !this.#stopped && this.#generation === generation;
    void this.#exiting.then(() => {
      if (!current()) return;
      // The previous ffmpeg has exited: the next packets are this one's.
      relays.audio.newGeneration();
      relays.video.newGeneration();
      let spawned: SupervisedProcess | undefined;
      startFfmpeg({
        name: `whep:${this.o.channelId}`,
        ffmpegPath: this.o.ffmpegPath,
        args,
        stdin: true,
        logger: this.o.logger,
        onSpawn: (p) => {
          spawned = p;
          if (!current()) return;
          this.#process = p;
          p.stdin.write(Buffer.concat(this.#queue ?? queue));
          this.#queue = undefined;
        },
      }).then(
        (p) => {
          if (!current() || this.#process !== p) {
            void p.stop();
            return;
          }
          this.o.logger.log(`whep feed ${this.o.channelId}: ffmpeg running (pid ${p.pid}), H.264 ${copyVideo ? 'passed through' : 'transcoded'}`);
          p.once('died', (error) => {
            if (this.#process !== p || this.#stopped) return;
            this.o.logger.warn(`whep feed ${this.o.channelId}: ffmpeg died (${error.message}); starting again at a keyframe`);
            this.#notBefore = Date.now() + RESTART_DELAY_MS;
            this.#replace();
          });
        },
        (error: Error) => {
          if (!current() || (spawned && this.#process !== spawned)) return;
          this.o.logger.error(`whep feed ${this.o.channelId}: ffmpeg failed to start: ${error.message}`);
          this.#notBefore = Date.now() + RESTART_DELAY_MS;
          this.#replace();
        },
      );
    });
  }
}
