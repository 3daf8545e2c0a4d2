import { FLV_AUDIO, FLV_SCRIPT, FLV_VIDEO, FlvTag, isCodecConfig, isVideoKeyframe, withTimestamp } from './flv';

interface FeedState {
  /** Latest codec configs seen on this feed, by tag type. */
  configs: Map<number, FlvTag>;
  /** Added to the feed's timestamps once it is on air; undefined until its splice. */
  offset: number | undefined;
  /**
   * Program time from which this feed's audio is written: its splice point, or
   * later if the previous feed's audio already reached further (that audio
   * was played; the new feed's audio for the same span would overlap it).
   */
  audioFrom: number;
}

export interface PushResult {
  /** Tags for the program output, in order, on the program's timeline. */
  out: FlvTag[];
  /** Set when this tag put a new feed on air. */
  switched?: string;
}

/** Beyond this, a jump in an on-air feed's own timestamps is a new session of that feed. */
const MAX_FORWARD_JUMP_MS = 3000;
const MAX_BACKWARD_JUMP_MS = 1000;
/**
 * How many of the outgoing feed's last video frames before a splice must not
 * be a keyframe when the splice changes the video codec config.
 *
 * MSE players that remux FLV (mpegts.js, flv.js) keep up to two video frames
 * back (the remuxer's stashed last sample, plus one sample a batch of one
 * leaves queued) and append them after the new config's init segment. The
 * browser drops non-key frames there (the MSE "need random access point"
 * flag) but keeps a keyframe, and decodes it and what follows with the new
 * feed's SPS/PPS: Chromium then fails with PIPELINE_ERROR_DECODE and the
 * player stops for good. So when the next feed's keyframe comes within this
 * many frames of the outgoing feed's last keyframe, that keyframe and what
 * follows it are held while the outgoing feed writes the frames still needed,
 * then spliced (at most MAX_INCOMING_HELD frames later: an outgoing feed that
 * stopped cannot hold the switch up). Holding the outgoing feed instead (an
 * earlier design) delayed each of its keyframes by two frames while a switch
 * was pending: a 120 ms gap at viewers whenever the wait spanned one.
 */
const KEYFRAME_HOLD_FRAMES = 2;
/** Video frames of the next feed held at most (see KEYFRAME_HOLD_FRAMES) before it is spliced regardless. */
const MAX_INCOMING_HELD = KEYFRAME_HOLD_FRAMES + 1;

const payload = (tag: FlvTag) => tag.raw.subarray(11, tag.raw.length - 4);

/**
 * One channel's program timeline: several feeds (the host's source, a mix)
 * offer FLV tags, exactly one is on air, and a switch happens at the next
 * keyframe of the feed switched to, never mid-GOP. The output keeps one
 * timeline: the spliced keyframe follows the last frame written by one frame
 * interval, codec configs of the new feed are written just before it, audio
 * from before the splice point (or overlapping audio already written) is
 * dropped, and timestamps never go back. When the splice changes the video
 * config, none of the outgoing feed's last two frames is a keyframe, unless
 * that feed stopped right after one (see KEYFRAME_HOLD_FRAMES); no frame of
 * either feed is dropped or delayed for it but the next feed's first few.
 * Pure: the program process feeds it and writes what it returns.
 */
export class ProgramTimeline {
  readonly #feeds = new Map<string, FeedState>();
  #onAir: string | undefined;
  #pending: string | undefined;
  #lastVideo = -1;
  #lastAudio = -1;
  #frameGap = 40;
  #largestJump = 0;
  /** Payload of the last video codec config written. */
  #videoConfig: Buffer | undefined;
  /** The pending feed's keyframe and what followed it, waiting for the outgoing feed's frames (see KEYFRAME_HOLD_FRAMES). */
  #incoming: FlvTag[] = [];
  /** Video frames written since the last keyframe written (0: the last one was a keyframe). */
  #sinceKeyframe = Infinity;

  /**
   * `continueFrom`: the last timestamp a previous program of the channel wrote.
   * Players of the channel may stay connected while it is off air (origins keep
   * them waiting on the stream name), so a new program carries on from there
   * instead of starting again at 0, which those players would see as time going back.
   */
  constructor(continueFrom?: number) {
    if (continueFrom !== undefined && continueFrom >= 0) {
      this.#lastVideo = continueFrom;
      this.#lastAudio = continueFrom;
    }
  }

  /** The latest timestamp written on either track (-1 before anything). */
  get lastTimestamp(): number {
    return Math.max(this.#lastVideo, this.#lastAudio);
  }

  /** The feed on air, if any. */
  get onAir(): string | undefined {
    return this.#onAir;
  }

  /** The feed waiting for its keyframe to go on air. */
  get pending(): string | undefined {
    return this.#pending;
  }

  /** Largest step between consecutive video timestamps written, in ms (for stats and tests). */
  get largestVideoStep(): number {
    return this.#largestJump;
  }

  /** Puts `feed` on air at its next keyframe; the current feed stays on air until then. */
  switchTo(feed: string): void {
    this.#state(feed);
    const pending = feed === this.#onAir && this.#feeds.get(feed)!.offset !== undefined ? undefined : feed;
    if (pending !== this.#pending) this.#incoming = [];
    this.#pending = pending;
  }

  /**
   * The feed started a new session (its source reconnected): its timestamps
   * start over, so if on air it is spliced again at its next keyframe.
   */
  restart(feed: string): void {
    const state = this.#feeds.get(feed);
    if (!state) return;
    state.offset = undefined;
    state.configs.clear();
    if (this.#pending === feed) this.#incoming = [];
    if (this.#onAir === feed && this.#pending === undefined) this.#pending = feed;
  }

  /** The feed is gone. If it was on air the output holds its last frame until another is switched to. */
  remove(feed: string): void {
    this.#feeds.delete(feed);
    if (this.#pending === feed) {
      this.#pending = undefined;
      this.#incoming = [];
    }
    if (this.#onAir === feed) this.#onAir = undefined;
  }

  push(feed: string, tag: FlvTag): PushResult {
    const state = this.#state(feed);
    if (tag.type === FLV_SCRIPT) return { out: [] };
    const out: FlvTag[] = [];
    if (isCodecConfig(tag)) {
      state.configs.set(tag.type, tag);
      // A config change inside the feed on air (e.g. its encoder restarted) is passed on in place.
      if (feed === this.#onAir && state.offset !== undefined && this.#pending !== feed) {
        out.push(this.#config(tag, Math.max(this.#lastVideo, this.#lastAudio, 0)));
      }
      return { out };
    }
    if (feed === this.#pending) {
      if (this.#incoming.length) {
        this.#incoming.push(tag);
        const held = this.#incoming.filter((t) => t.type === FLV_VIDEO).length;
        // Spliced regardless once the outgoing feed is gone or has had its chance.
        return held > MAX_INCOMING_HELD || !this.#switchingAway() ? this.#spliceIncoming(out) : { out };
      }
      if (isVideoKeyframe(tag) && state.configs.has(FLV_VIDEO)) {
        if (!this.#keyframeTooRecent(state)) return this.#splice(feed, state, tag, out);
        this.#incoming.push(tag);
        return { out };
      }
    }
    if (feed !== this.#onAir || state.offset === undefined) return { out };

    let ts = tag.timestamp + state.offset;
    if (tag.type === FLV_VIDEO) {
      const last = this.#lastVideo;
      if (last >= 0 && (ts > last + MAX_FORWARD_JUMP_MS || ts < last - MAX_BACKWARD_JUMP_MS)) {
        // The feed's clock jumped without a restart being announced: hold until its next keyframe.
        this.restart(feed);
        return { out };
      }
      out.push(this.#video(withTimestamp(tag, Math.max(ts, last))));
      // The outgoing keyframe is far enough back now: the held next feed goes on air.
      if (this.#incoming.length && this.#sinceKeyframe >= KEYFRAME_HOLD_FRAMES) return this.#spliceIncoming(out);
      return { out };
    }
    if (tag.type === FLV_AUDIO) {
      // Audio the feed captured before its splice point belongs to the previous feed's time.
      if (ts < state.audioFrom) return { out };
      ts = Math.max(ts, this.#lastAudio);
      this.#lastAudio = ts;
    }
    out.push(withTimestamp(tag, ts));
    return { out };
  }

  /** Splices the held next feed: its keyframe, then what arrived after it, in order. */
  #spliceIncoming(out: FlvTag[]): PushResult {
    const feed = this.#pending!;
    const [keyframe, ...rest] = this.#incoming;
    this.#incoming = [];
    const result = this.#splice(feed, this.#state(feed), keyframe, out);
    for (const tag of rest) result.out.push(...this.push(feed, tag).out);
    return result;
  }

  #splice(feed: string, state: FeedState, keyframe: FlvTag, out: FlvTag[]): PushResult {
    const last = this.#lastVideo >= 0 ? this.#lastVideo : this.#lastAudio;
    const at = last < 0 ? 0 : last + this.#frameGap;
    if (this.#lastVideo >= 0) this.#largestJump = Math.max(this.#largestJump, at - this.#lastVideo);
    state.offset = at - keyframe.timestamp;
    // Audio already written past the splice point was heard; the new feed's audio for that span would overlap it.
    state.audioFrom = this.#lastAudio >= at ? this.#lastAudio + 1 : at;
    this.#onAir = feed;
    this.#pending = undefined;
    this.#incoming = [];
    this.#lastVideo = at;
    this.#sinceKeyframe = 0;
    // The audio config goes no earlier than audio already written (each track's timestamps never go back).
    for (const config of state.configs.values()) out.push(this.#config(config, config.type === FLV_AUDIO ? Math.max(at, this.#lastAudio) : at));
    out.push(withTimestamp(keyframe, at));
    return { out, switched: feed };
  }

  /**
   * The outgoing feed, still on air, wrote a keyframe among its last frames and
   * the next feed brings another video config: splicing now would let MSE
   * players decode that keyframe with the new parameter sets, so the next
   * feed's keyframe waits for the outgoing feed's next frames.
   */
  #keyframeTooRecent(next: FeedState): boolean {
    return this.#switchingAway() && this.#sinceKeyframe < KEYFRAME_HOLD_FRAMES && !this.#videoConfig?.equals(payload(next.configs.get(FLV_VIDEO)!));
  }

  /** A switch to another feed is pending while a feed is on air. */
  #switchingAway(): boolean {
    return this.#pending !== undefined && this.#pending !== this.#onAir && this.#onAir !== undefined;
  }

  /** Accounts for a video frame written (already on the program timeline). */
  #video(tag: FlvTag): FlvTag {
    if (this.#lastVideo >= 0) {
      const step = tag.timestamp - this.#lastVideo;
      if (step > 0) this.#frameGap = Math.min(100, Math.max(10, step));
      this.#largestJump = Math.max(this.#largestJump, step);
    }
    this.#lastVideo = tag.timestamp;
    this.#sinceKeyframe = isVideoKeyframe(tag) ? 0 : this.#sinceKeyframe + 1;
    return tag;
  }

  #config(config: FlvTag, at: number): FlvTag {
    if (config.type === FLV_VIDEO) this.#videoConfig = Buffer.from(payload(config));
    return withTimestamp(config, at);
  }

  #state(feed: string): FeedState {
    let state = this.#feeds.get(feed);
    if (!state) {
      state = { configs: new Map(), offset: undefined, audioFrom: 0 };
      this.#feeds.set(feed, state);
    }
    return state;
  }
}
