import { ConflictError, LineLogger, TypedEmitter } from '@gw/common';
import { ChannelService } from '../channel.service';
import { HlsChannel } from '../hls/hls-channel';
import { HlsResumePoint } from '../hls/hls-segmenter';
import { ChannelProgram } from './channel-program';
import { FlvTag } from './flv';
import { SourceInfo } from './flv-info';
import { SourcePuller } from './source-puller';
import { UplinkQuality } from './uplink-meter';

export interface ProgramServiceOptions {
  ffmpegPath: string;
  /** A program with nothing to show for this long goes off air (the channel turns idle). */
  idleGraceMs: number;
  /** Nice value of its processes (the program's on-air path; see ON_AIR_PRIORITY). */
  priority?: number;
  /** The lead before a switch to a trailing feed, ms (PROGRAM_SWITCH_LEAD_MS; switch-lead.ts). */
  switchLeadMs?: number;
  logger: LineLogger;
}

/** A feed a producer (a mix task) writes into a channel's program. */
export interface ProgramFeed {
  readonly name: string;
  push(tag: FlvTag): void;
  /** The producer's timestamps start over (e.g. a new encoder session without stitching). */
  restart(): void;
  close(): void;
}

interface Entry {
  program: ChannelProgram;
  /** The program as HLS and LL-HLS, in memory; closed (segments dropped) when the program ends. */
  hls: HlsChannel;
  puller?: SourcePuller;
  /** The feed the channel should show. */
  wanted: string;
  /** Feeds opened by producers and not closed yet. */
  feeds: Set<string>;
}

interface ProgramServiceEvents extends Record<string, unknown[]> {
  /** The score of a channel's host push (its uplink) moved by 5 points or more. */
  hostUplink: [{ channelId: string; quality: UplinkQuality }];
}

const HOST_FEED = 'host';
/** The origin reports a publish as it begins (a callback before the stream is playable): pull a moment later. */
const PULL_DELAY_MS = 300;

/**
 * Owns every channel's published stream (its program). The host's own push
 * arrives on a private source stream and is pulled in as the `host` feed; a
 * co-hosting or bypass mix writes its feed in-process. Switching between them
 * is a splice at a keyframe, so viewers stay connected and the timeline never
 * jumps, whatever the origin. A program with nothing to show for
 * `idleGraceMs` goes off air.
 */
export class ProgramService extends TypedEmitter<ProgramServiceEvents> {
  readonly #entries = new Map<string, Entry>();
  /** Where each channel's last program ended on its timeline: the next one continues from there. */
  readonly #lastTimestamps = new Map<string, number>();
  /** Where each channel's last HLS numbering stopped: the next program's playlists go on from there. */
  readonly #hlsResume = new Map<string, HlsResumePoint>();
  /** Per channel: listeners of every tag its programs write (they outlive any one program). */
  readonly #taps = new Map<string, Set<(tag: FlvTag) => void>>();
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;

  constructor(
    private readonly channels: ChannelService,
    private readonly o: ProgramServiceOptions,
  ) {
    super();
    channels.on('hostSource', ({ channelId, publishing }) => (publishing ? this.#hostUp(channelId) : this.#hostDown(channelId)));
    this.#sweeper = setInterval(() => this.#sweep(), 500);
    this.#sweeper.unref();
  }

  /** What the channel shows now, for stats: the feed on air and the program's relay. */
  view(channelId: string): { onAir?: string; pending?: string; output: string; pid?: number; largestVideoStepMs: number } | undefined {
    const entry = this.#entries.get(channelId);
    if (!entry) return undefined;
    const p = entry.program;
    return { onAir: p.onAir, pending: p.pending, output: p.outputState, pid: p.pid, largestVideoStepMs: p.largestVideoStep };
  }

  /** Every process the programs run (for leak checks). */
  pids(): number[] {
    return [...this.#entries.values()].flatMap((e) => [e.program.pid, e.puller?.pid]).filter((p): p is number => p !== undefined);
  }

  /** The channel's HLS while its program runs. */
  hls(channelId: string): HlsChannel | undefined {
    return this.#entries.get(channelId)?.hls;
  }

  /** What the host's push looks like (size, rate, audio), so a mix can match it. */
  hostInfo(channelId: string): SourceInfo {
    return this.#entries.get(channelId)?.program.info(HOST_FEED) ?? {};
  }

  /** The quality of the host's push as it arrives (its uplink's score; uplink-meter.ts), while it pushes. */
  hostUplink(channelId: string): UplinkQuality | undefined {
    return this.#entries.get(channelId)?.program.uplink(HOST_FEED);
  }

  /** Channels whose host pushes now, with their uplink's quality (for /metrics). */
  hostUplinks(): { channelId: string; quality: UplinkQuality }[] {
    const out: { channelId: string; quality: UplinkQuality }[] = [];
    for (const [channelId, entry] of this.#entries) {
      const quality = entry.program.uplink(HOST_FEED);
      if (quality) out.push({ channelId, quality });
    }
    return out;
  }

  /**
   * Calls `listener` with every tag the channel's program writes (on its one
   * timeline), across programs of the channel coming and going, until the
   * returned function is called. Does not start a program.
   */
  tap(channelId: string, listener: (tag: FlvTag) => void): () => void {
    let listeners = this.#taps.get(channelId);
    if (!listeners) this.#taps.set(channelId, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.#taps.get(channelId) === listeners) this.#taps.delete(channelId);
    };
  }

  /** The channel's program as a new reader needs it first (see ChannelProgram.snapshot); null when it has none. */
  snapshot(channelId: string): Buffer | null {
    return this.#entries.get(channelId)?.program.snapshot() ?? null;
  }

  /** Opens a feed named `name` into the channel's program (the program starts if needed). */
  openFeed(channelId: string, name: string): ProgramFeed {
    const entry = this.#entry(channelId);
    entry.feeds.add(name);
    let closed = false;
    return {
      name,
      push: (tag) => {
        if (!closed) entry.program.push(name, tag);
      },
      restart: () => entry.program.restart(name),
      close: () => {
        if (closed) return;
        closed = true;
        entry.feeds.delete(name);
        entry.program.remove(name);
        if (entry.wanted === name) this.#want(entry, HOST_FEED);
      },
    };
  }

  /** The channel should show `feed` from its next keyframe; resolves whether that happened within `timeoutMs`. */
  show(channelId: string, feed: string, timeoutMs: number): Promise<boolean> {
    return this.#want(this.#entry(channelId), feed, timeoutMs);
  }

  /** A feed that trails the one on air (a co-hosting mix starting) will be shown soon: the program leads up to it (switch-lead.ts). */
  prepareSwitch(channelId: string): void {
    this.#entries.get(channelId)?.program.prepareSwitch();
  }

  /** The switch prepared for is not coming: the program gives its lead back. */
  cancelSwitch(channelId: string): void {
    this.#entries.get(channelId)?.program.cancelSwitch();
  }

  /** The channel returns to the host's own push. Resolves true once it is on air, false if the host did not come back in time. */
  showHost(channelId: string, timeoutMs: number): Promise<boolean> {
    const entry = this.#entries.get(channelId);
    return entry ? this.#want(entry, HOST_FEED, timeoutMs) : Promise.resolve(false);
  }

  async closeAll(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    await Promise.all([...this.#entries.keys()].map((channelId) => this.#end(channelId, 'shutdown')));
  }

  #want(entry: Entry, feed: string, timeoutMs = 0): Promise<boolean> {
    entry.wanted = feed;
    return entry.program.switchTo(feed, timeoutMs);
  }

  #entry(channelId: string): Entry {
    let entry = this.#entries.get(channelId);
    if (entry) return entry;
    if (this.#closed) throw new ConflictError('the gateway is shutting down', 'SHUTTING_DOWN');
    const hls = new HlsChannel({ now: Date.now, startAt: this.#hlsResume.get(channelId) });
    const program = new ChannelProgram({
      channelId,
      publishUrl: this.channels.programPublishUrl(channelId),
      ffmpegPath: this.o.ffmpegPath,
      priority: this.o.priority,
      switchLeadMs: this.o.switchLeadMs,
      logger: this.o.logger,
      continueFrom: this.#lastTimestamps.get(channelId),
      hls,
    });
    const created: Entry = { program, hls, wanted: HOST_FEED, feeds: new Set() };
    entry = created;
    this.#entries.set(channelId, created);
    const report = () =>
      this.channels.setProgram(channelId, {
        onAir: program.outputState === 'live',
        feed: program.onAir === undefined ? undefined : program.onAir === HOST_FEED ? 'host' : 'mix',
      });
    program.on('onAir', report);
    program.on('output', report);
    program.on('tag', (tag) => {
      for (const listener of this.#taps.get(channelId) ?? []) listener(tag);
    });
    program.on('uplink', ({ feed, quality }) => feed === HOST_FEED && this.emit('hostUplink', { channelId, quality }));
    return created;
  }

  #hostUp(channelId: string): void {
    if (this.#closed) return;
    const entry = this.#entry(channelId);
    if (!entry.puller) {
      const puller = new SourcePuller({
        name: `program:${channelId}:source`,
        url: this.channels.hostSourcePullUrl(channelId),
        ffmpegPath: this.o.ffmpegPath,
        priority: this.o.priority,
        logger: this.o.logger,
        onSession: () => entry.program.restart(HOST_FEED),
        onTag: (tag) => entry.program.push(HOST_FEED, tag),
      });
      entry.puller = puller;
      puller.start(PULL_DELAY_MS);
    }
    if (entry.wanted === HOST_FEED) void entry.program.switchTo(HOST_FEED, 0);
  }

  #hostDown(channelId: string): void {
    const entry = this.#entries.get(channelId);
    if (!entry?.puller) return;
    const puller = entry.puller;
    entry.puller = undefined;
    void puller.stop();
  }

  /** Programs with nothing to show for the grace period go off air. */
  #sweep(): void {
    for (const [channelId, entry] of this.#entries) {
      if (entry.program.idleMs > this.o.idleGraceMs && !entry.puller && entry.feeds.size === 0) {
        void this.#end(channelId, 'nothing to show');
      }
    }
  }

  async #end(channelId: string, reason: string): Promise<void> {
    const entry = this.#entries.get(channelId);
    if (!entry) return;
    this.#entries.delete(channelId);
    if (entry.program.lastTimestamp >= 0) this.#lastTimestamps.set(channelId, entry.program.lastTimestamp);
    entry.hls.close();
    const resume = entry.hls.resumePoint;
    if (resume) this.#hlsResume.set(channelId, resume);
    this.o.logger.log(`channel ${channelId}: program off air (${reason})`);
    await Promise.all([entry.puller?.stop(), entry.program.stop()]);
    this.channels.setProgram(channelId, { onAir: false });
  }
}
