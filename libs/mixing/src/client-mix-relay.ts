import { LineLogger, SupervisedProcess } from '@gw/common';
import type { Conference } from '@gw/conference';
import { FlvTagReader, isVideoKeyframe } from '@gw/live';
import { buildPackagerArgs, buildSdp, OutputSettings } from './ffmpeg-args';
import type { MixSink } from './mix-task';
import { closeServiceTracks, describeServiceTracks, openServiceTracks, ServiceTrack, serviceTrackProducers } from './service-tracks';
import { UdpPortAllocator } from './udp-ports';

export interface ClientMixRelayOptions {
  conference: Conference;
  /** The composite producers the host page publishes. */
  producers: { audio: string; video: string };
  settings: OutputSettings;
  ports: UdpPortAllocator;
  ffmpegPath: string;
  sink: MixSink;
  logger: LineLogger;
}


/**
 * Client-side mixing on the server: no compositor, only packaging. The host
 * page's composed stream is consumed from the SFU and turned into FLV for the
 * channel's program by one ffmpeg: H.264 video is copied, VP8 is encoded once,
 * Opus becomes AAC. A packager that dies is restarted; keyframes are asked for
 * until the first arrives (the program splices at keyframes).
 */
export class ClientMixRelay {
  readonly #tracks: ServiceTrack[] = [];
  #process: SupervisedProcess | undefined;
  #stopped = false;
  #keyframeTimer: NodeJS.Timeout | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #videoCopy = false;

  private constructor(private readonly o: ClientMixRelayOptions) {}

  static async start(o: ClientMixRelayOptions): Promise<ClientMixRelay> {
    const relay = new ClientMixRelay(o);
    try {
      await openServiceTracks(o.conference, o.ports, o.producers, relay.#tracks);
      await relay.#startPackager();
      for (const track of relay.#tracks) await track.consumer.resume();
    } catch (error) {
      await relay.stop();
      throw error;
    }
    return relay;
  }

  get pid(): number | undefined {
    return this.#process?.running ? this.#process.pid : undefined;
  }

  /** True when the browser's H.264 is remuxed without re-encoding. */
  get videoCopied(): boolean {
    return this.#videoCopy;
  }

  get producerIds(): { audio?: string; video?: string } {
    return serviceTrackProducers(this.#tracks);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#keyframeTimer);
    clearTimeout(this.#restartTimer);
    closeServiceTracks(this.#tracks, this.o.ports);
    await this.#process?.stop();
    this.o.sink.close();
  }

  async #startPackager(): Promise<void> {
    const streams = describeServiceTracks(this.#tracks);
    this.#videoCopy = streams.some((s) => s.kind === 'video' && s.codecName.toUpperCase() === 'H264');
    const reader = new FlvTagReader();
    const proc = await SupervisedProcess.start({
      name: `clientmix:${this.o.conference.id}:package`,
      command: this.o.ffmpegPath,
      args: buildPackagerArgs({ sdp: buildSdp(streams), videoCopy: this.#videoCopy, settings: this.o.settings }),
      readiness: { kind: 'spawn' },
      rawStdout: true,
      stderrWarnPattern: /error|invalid/i,
      logger: this.o.logger,
    });
    if (this.#stopped) {
      await proc.stop();
      return;
    }
    this.#process = proc;
    proc.stdout.on('data', (chunk: Buffer) => {
      let tags;
      try {
        tags = reader.push(chunk);
      } catch (error) {
        this.o.logger.error(`client mix ${this.o.conference.id}: ${(error as Error).message}`);
        return;
      }
      for (const tag of tags) {
        if (isVideoKeyframe(tag)) clearInterval(this.#keyframeTimer);
        this.o.sink.push(tag);
      }
    });
    proc.once('died', () => {
      if (this.#stopped || this.#process !== proc) return;
      this.#process = undefined;
      this.#restartTimer = setTimeout(() => void this.#startPackager().catch((e: Error) => this.o.logger.error(e.message)), 300);
    });
    const video = this.#tracks.find((t) => t.kind === 'video');
    clearInterval(this.#keyframeTimer);
    const ask = () => void video?.consumer.requestKeyFrame().catch(() => undefined);
    ask();
    this.#keyframeTimer = setInterval(ask, 500);
  }
}
