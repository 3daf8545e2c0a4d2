import { randomInt } from 'node:crypto';
import type { types } from 'mediasoup';
import { describeStream, LineLogger, startFfmpeg, SupervisedProcess } from '@gw/common';
import { Conference } from '../conference';
import { Participant } from '../participant';
import { IngestFailedError } from '../errors';
import { buildIngestArgs, buildProbeArgs, canPassThrough, INGEST_CODECS, parseProbedVideo } from './ingest-ffmpeg-args';

const AUDIO_PT = 100;
const VIDEO_PT = 101;

/**
 * One RTMP participant: a supervised ffmpeg reads the push from the origin and
 * sends Opus + H.264 RTP to two PlainTransports, whose producers the other
 * participants consume. Owns the ffmpeg process and the participant's place in
 * the conference; stop() is idempotent and ends both.
 */
export class IngestSession {
  #stopped = false;
  #ffmpeg: SupervisedProcess | undefined;
  /** This session's place in the conference: a newer source of the same user (WebRTC, another push) replaces it. */
  #participant: Participant | undefined;
  #unsubscribe: (() => void) | undefined;

  private constructor(
    readonly conference: Conference,
    readonly userId: string,
    private readonly logger: LineLogger,
  ) {}

  static async start(options: {
    conference: Conference;
    userId: string;
    pullUrl: string;
    /** The push is a screen share (a presentation PC): its producers are the participant's screen. */
    screen?: boolean;
    ffmpegPath: string;
    /** See IngestArgsInput.probeMs. */
    probeMs?: number;
    logger: LineLogger;
    onEnded: (reason: string) => void;
  }): Promise<IngestSession> {
    const { conference, userId } = options;
    const session = new IngestSession(conference, userId, options.logger);
    // What the push holds decides whether its H.264 can enter the SFU as it is; read while joining.
    const described = describeStream({ ffmpegPath: options.ffmpegPath, args: buildProbeArgs(options.pullUrl, options.probeMs), timeoutMs: 5000 });
    try {
      const participant = await conference.join(userId, 'rtmp');
      session.#participant = participant;
      // Replaced by a newer source of the same user (the newest wins): this push's ffmpeg has nothing left to feed.
      const onLeft = ({ userId: left }: { userId: string }) => {
        if (left === userId && participant.closed) void session.stop('replaced by a newer source');
      };
      conference.on('participantLeft', onLeft);
      session.#unsubscribe = () => conference.off('participantLeft', onLeft);
      // The conference's calls name the user, not this participant: should a newer source of the same
      // user join while this one is being set up, stop here rather than add transports to theirs.
      const ours = () => {
        if (participant.closed || session.#stopped) throw new Error('replaced by a newer source while starting');
      };
      ours();
      const audioTransport = await conference.createPlainTransport(userId);
      ours();
      const videoTransport = await conference.createPlainTransport(userId);
      const audioSsrc = randomInt(1, 2 ** 31);
      const videoSsrc = randomInt(1, 2 ** 31);
      ours();
      const appData = { source: 'rtmp', ...(options.screen ? { screen: true } : {}) };
      await conference.produce(userId, audioTransport.id, 'audio', rtpParameters('audio', AUDIO_PT, audioSsrc), appData);
      ours();
      await conference.produce(userId, videoTransport.id, 'video', rtpParameters('video', VIDEO_PT, videoSsrc), appData);
      const copyVideo = canPassThrough(parseProbedVideo(await described));
      ours();
      participant.transcoded = !copyVideo;
      const args = buildIngestArgs({
        source: options.pullUrl,
        audio: { ...ports(audioTransport), payloadType: AUDIO_PT, ssrc: audioSsrc },
        video: { ...ports(videoTransport), payloadType: VIDEO_PT, ssrc: videoSsrc },
        probeMs: options.probeMs,
        copyVideo,
      });
      session.#ffmpeg = await startFfmpeg({ name: `ingest:${conference.id}/${userId}`, ffmpegPath: options.ffmpegPath, args, logger: options.logger });
      options.logger.log(`RTMP participant ${userId}: H.264 ${copyVideo ? 'passed through' : 'transcoded'}`);
    } catch (error) {
      await described;
      await session.stop('ingest failed');
      throw new IngestFailedError(`RTMP ingest for ${userId} failed: ${(error as Error).message}`);
    }
    session.#ffmpeg.once('died', () => {
      void session.stop('ingest process ended').then(() => options.onEnded('ingest process ended'));
    });
    return session;
  }

  get pid(): number | undefined {
    return this.#ffmpeg?.running ? this.#ffmpeg.pid : undefined;
  }

  async stop(reason: string): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe?.();
    if (this.#participant && this.conference.participant(this.userId) === this.#participant) this.conference.leave(this.userId, reason);
    await this.#ffmpeg?.stop();
    this.logger.log(`RTMP participant ${this.userId} left conference ${this.conference.id} (${reason})`);
  }
}

function ports(transport: types.PlainTransport): { port: number; rtcpPort: number } {
  return { port: transport.tuple.localPort, rtcpPort: transport.rtcpTuple!.localPort };
}

function rtpParameters(kind: 'audio' | 'video', payloadType: number, ssrc: number): types.RtpParameters {
  const codec = kind === 'audio' ? { ...INGEST_CODECS.audio, parameters: { 'sprop-stereo': 1 } } : { ...INGEST_CODECS.video, parameters: { ...INGEST_CODECS.video.parameters } };
  return { codecs: [{ ...codec, payloadType }], encodings: [{ ssrc }] };
}
