import { LineLogger, TypedEmitter } from '@gw/common';
import { FLV_SCRIPT, FLV_VIDEO, FlvTag, GopCache, isCodecConfig } from './flv';
import { aacConfigInfo, metadataNumber, SourceInfo } from './flv-info';
import { ProgramTimeline } from './program-timeline';
import { SwitchLead } from './switch-lead';
import { OutputState, RtmpOutput } from './rtmp-output';
import { UplinkMeter, UplinkQuality } from './uplink-meter';

export interface ChannelProgramOptions {
  channelId: string;
  /** Where the program is published: the channel's stream on the origin (gateway key). */
  publishUrl: string;
  ffmpegPath: string;
  /** Nice value of its processes (the program's on-air path; see ON_AIR_PRIORITY). */
  priority?: number;
  logger: LineLogger;
  /** The last timestamp an earlier program of this channel wrote: this one continues from it. */
  continueFrom?: number;
  /** Gets exactly the tags the output writes (after the splice), so HLS shows what RTMP/FLV viewers see. */
  hls?: { push(tag: FlvTag): void };
  /** The lead before a switch to a trailing feed (switch-lead.ts), ms; 0 or absent: none. */
  switchLeadMs?: number;
}

interface ChannelProgramEvents extends Record<string, unknown[]> {
  /** A feed went on air (its first keyframe was spliced in). */
  onAir: [{ feed: string }];
  output: [{ state: OutputState }];
  /** A tag the program wrote, on its timeline (taps carry the program elsewhere, e.g. into the SFU for WHEP). */
  tag: [FlvTag];
  /** A feed's arrival quality (its uplink, for a host's push) moved by 5 points or more. */
  uplink: [{ feed: string; quality: UplinkQuality }];
}

/** A lead before a switch (switch-lead.ts): the feed it delays, its plan, the tags it holds with when each is due, its timer. */
interface Lead {
  feed: string;
  plan: SwitchLead;
  queue: { tag: FlvTag; at: number }[];
  timer?: NodeJS.Timeout;
}

/** Header of the program's FLV: audio and video present. */
const PROGRAM_FLV_HEADER = Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);

/**
 * A channel's program: the one stream the gateway publishes as the channel.
 * Feeds (the host's source push, a mix) offer FLV tags; the timeline splices
 * the chosen one in at its keyframe with continuous timestamps, so viewers'
 * players see one unbroken stream on any origin while the source changes. One
 * RTMP output (a `-c copy` relay with reconnects) carries it to the origin.
 */
export class ChannelProgram extends TypedEmitter<ChannelProgramEvents> {
  readonly #timeline: ProgramTimeline;
  readonly #gop = new GopCache();
  readonly #lastTagAt = new Map<string, number>();
  readonly #info = new Map<string, SourceInfo>();
  /** Each feed's arrival quality (a host's push: its uplink). */
  readonly #meters = new Map<string, UplinkMeter>();
  readonly #waiters = new Set<{ feed: string; done: (onAir: boolean) => void }>();
  #output: RtmpOutput | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  /** While a trailing feed is coming: the feed on air's tags, each written at its arrival + the lead's delay. */
  #lead: Lead | undefined;
  #lastOutAt = Date.now();
  #stopped = false;

  constructor(private readonly o: ChannelProgramOptions) {
    super();
    this.#timeline = new ProgramTimeline(o.continueFrom);
    this.#gop.setHeader(PROGRAM_FLV_HEADER);
  }

  get channelId(): string {
    return this.o.channelId;
  }

  get onAir(): string | undefined {
    return this.#timeline.onAir;
  }

  get pending(): string | undefined {
    return this.#timeline.pending;
  }

  get outputState(): OutputState | 'none' {
    return this.#output?.state ?? 'none';
  }

  get pid(): number | undefined {
    return this.#output?.pid;
  }

  /** What a new reader needs first: FLV header, metadata, codec configs and the current GOP; null before the first keyframe. */
  snapshot(): Buffer | null {
    return this.#gop.snapshot();
  }

  /** Wall-clock ms since the program last wrote a tag. */
  get idleMs(): number {
    return Date.now() - this.#lastOutAt;
  }

  /** The latest timestamp written (for a later program of the channel to continue from). */
  get lastTimestamp(): number {
    return this.#timeline.lastTimestamp;
  }

  /** Largest step between consecutive video timestamps written (ms). */
  get largestVideoStep(): number {
    return this.#timeline.largestVideoStep;
  }

  /** True if the feed delivered a tag within `withinMs`. */
  flowing(feed: string, withinMs = 2000): boolean {
    const at = this.#lastTagAt.get(feed);
    return at !== undefined && Date.now() - at < withinMs;
  }

  /** Resolution, frame rate and audio format of a feed, as far as its metadata and configs tell. */
  info(feed: string): SourceInfo {
    return { ...this.#info.get(feed) };
  }

  push(feed: string, tag: FlvTag): void {
    if (this.#stopped) return;
    const now = Date.now();
    this.#lastTagAt.set(feed, now);
    if (tag.type === FLV_SCRIPT || isCodecConfig(tag)) this.#learn(feed, tag);
    let meter = this.#meters.get(feed);
    if (!meter) this.#meters.set(feed, (meter = new UplinkMeter(this.#info.get(feed)?.fps)));
    const moved = meter.tag(now, tag.timestamp, tag.raw.length, tag.type === FLV_VIDEO);
    if (moved) this.emit('uplink', { feed, quality: moved });
    const lead = this.#lead;
    if (lead && lead.feed === feed) {
      const at = now + lead.plan.delayAt(now);
      if (lead.queue.length || at > now) {
        lead.queue.push({ tag, at });
        this.#scheduleLead();
        return;
      }
      if (lead.plan.done(now)) this.#endLead();
    }
    this.#write(feed, tag);
  }

  /**
   * A feed that trails the one on air (a co-hosting mix starting) will be
   * switched to soon: the feed on air is delayed little by little
   * (switch-lead.ts) so that the splice shows no frozen picture. Nothing
   * when no lead is configured or nothing is on air.
   */
  prepareSwitch(): void {
    const onAir = this.#timeline.onAir;
    if (!this.o.switchLeadMs || this.#stopped || !onAir) return;
    if (this.#lead && this.#lead.feed === onAir) return this.#lead.plan.renew(Date.now());
    this.#endLead();
    this.#lead = { feed: onAir, plan: new SwitchLead(Date.now(), { maxMs: this.o.switchLeadMs }), queue: [] };
  }

  /** The switch prepared for is not coming (the mix failed): the delay is given back. */
  cancelSwitch(): void {
    this.#lead?.plan.giveBack(Date.now());
  }

  #scheduleLead(): void {
    const lead = this.#lead;
    if (!lead || lead.timer || !lead.queue.length) return;
    lead.timer = setTimeout(() => {
      lead.timer = undefined;
      if (this.#lead !== lead) return;
      const now = Date.now();
      while (lead.queue.length && lead.queue[0].at <= now && this.#lead === lead) this.#write(lead.feed, lead.queue.shift()!.tag);
      if (this.#lead !== lead) return;
      if (!lead.queue.length && lead.plan.done(now)) this.#endLead();
      else this.#scheduleLead();
    }, Math.max(0, lead.queue[0].at - Date.now()));
  }

  /** The lead ends: what it still holds goes to the timeline at once (after a splice, the feed is off air and it is dropped there). */
  #endLead(): void {
    const lead = this.#dropLead();
    for (const { tag } of lead?.queue ?? []) this.#write(lead!.feed, tag);
  }

  /** The lead is gone, its timer cleared; returns it (what it held is not written). */
  #dropLead(): Lead | undefined {
    const lead = this.#lead;
    this.#lead = undefined;
    clearTimeout(lead?.timer);
    return lead;
  }

  #write(feed: string, tag: FlvTag): void {
    const { out, switched } = this.#timeline.push(feed, tag);
    if (out.length) this.#lastOutAt = Date.now();
    for (const t of out) {
      this.#gop.add(t);
      this.#output?.write(t);
      this.o.hls?.push(t);
      this.emit('tag', t);
    }
    if (!this.#output && out.length) this.#startOutput();
    if (switched) {
      // The trailing feed is on air: the lead's held tags are of the feed now off air.
      if (this.#lead && this.#lead.feed !== switched) this.#endLead();
      this.o.logger.log(`channel ${this.o.channelId}: ${switched} on air`);
      this.emit('onAir', { feed: switched });
      for (const waiter of [...this.#waiters]) if (waiter.feed === switched) waiter.done(true);
    }
  }

  /** The feed's source started a new session: it is spliced again at its next keyframe. */
  restart(feed: string): void {
    this.#timeline.restart(feed);
    this.#meters.get(feed)?.restart();
  }

  /** A feed's arrival quality as of its last full window (undefined before one). */
  uplink(feed: string): UplinkQuality | undefined {
    return this.#meters.get(feed)?.current;
  }

  remove(feed: string): void {
    if (this.#lead?.feed === feed) this.#dropLead();
    this.#timeline.remove(feed);
    this.#lastTagAt.delete(feed);
    this.#info.delete(feed);
    this.#meters.delete(feed);
    for (const waiter of [...this.#waiters]) if (waiter.feed === feed) waiter.done(false);
  }

  /**
   * Puts the feed on air at its next keyframe. Resolves true once it is on
   * air, false if that did not happen within `timeoutMs` (the request stays).
   */
  switchTo(feed: string, timeoutMs: number): Promise<boolean> {
    this.#timeline.switchTo(feed);
    if (this.#timeline.onAir === feed && this.#timeline.pending === undefined) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        feed,
        done: (onAir: boolean) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(onAir);
        },
      };
      const timer = setTimeout(() => waiter.done(false), timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    this.#dropLead();
    for (const waiter of [...this.#waiters]) waiter.done(false);
    await this.#output?.stop();
  }

  #startOutput(): void {
    if (this.#stopped || !this.#gop.snapshot()) return;
    const output = new RtmpOutput({
      taskId: `program:${this.o.channelId}`,
      url: this.o.publishUrl,
      ffmpegPath: this.o.ffmpegPath,
      priority: this.o.priority,
      logger: this.o.logger,
      snapshot: () => this.#gop.snapshot(),
      firstConnectAttempts: 5,
      retryWindowMs: 120000,
    });
    this.#output = output;
    output.on('state', ({ state }) => {
      this.emit('output', { state });
      if (state === 'failed' && this.#output === output && !this.#stopped) {
        // The origin stayed away too long: start over with a fresh relay a little later.
        this.#output = undefined;
        this.#restartTimer = setTimeout(() => this.#startOutput(), 5000);
      }
    });
    output.start();
  }

  #learn(feed: string, tag: FlvTag): void {
    const info = this.#info.get(feed) ?? {};
    if (tag.type === FLV_SCRIPT) {
      info.width = metadataNumber(tag, 'width') ?? info.width;
      info.height = metadataNumber(tag, 'height') ?? info.height;
      info.fps = metadataNumber(tag, 'framerate') ?? info.fps;
      this.#meters.get(feed)?.setTargetFps(info.fps);
    } else {
      Object.assign(info, aacConfigInfo(tag));
    }
    this.#info.set(feed, info);
  }
}
