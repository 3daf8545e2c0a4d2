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
 * player stops for good. So while a switch is pending, the feed on air's
 * video is held back from each keyframe for this many frames, and if the
 * splice comes first the held frames are dropped; a keyframe written before
 * the switch was asked for makes the splice wait for the next feed's
 * following keyframe (once).
 */
const KEYFRAME_HOLD_FRAMES = 2;

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
 * that feed stopped right after one (see KEYFRAME_HOLD_FRAMES).
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
  /** Video of the feed on air held back from its latest keyframe while a switch is pending (on the program timeline). */
  #held: FlvTag[] = [];
  /** Video frames written since the last keyframe written (0: the last one was a keyframe). */
  #sinceKeyframe = Infinity;
  /** The pending switch already let one keyframe of its feed pass (see KEYFRAME_HOLD_FRAMES). */
  #deferred = false;

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
    if (pending !== this.#pending) this.#deferred = false;
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
    if (this.#onAir === feed && this.#pending === undefined) this.#pending = feed;
  }

  /** The feed is gone. If it was on air the output holds its last frame until another is switched to. */
  remove(feed: string): void {
    this.#feeds.delete(feed);
    if (this.#pending === feed) this.#pending = undefined;
    if (this.#onAir === feed) {
      this.#onAir = undefined;
      this.#held = [];
    }
  }

  push(feed: string, tag: FlvTag): PushResult {
    const state = this.#state(feed);
    if (tag.type === FLV_SCRIPT) return { out: [] };
    // Held frames go out once no splice is pending any more (the switch was called off).
    const out = this.#pending === undefined && this.#held.length ? this.#release() : [];
    if (isCodecConfig(tag)) {
      state.configs.set(tag.type, tag);
      // A config change inside the feed on air (e.g. its encoder restarted) is passed on in place.
      if (feed === this.#onAir && state.offset !== undefined && this.#pending !== feed) {
        out.push(...this.#release());
        out.push(this.#config(tag, Math.max(this.#lastVideo, this.#lastAudio, 0)));
      }
      return { out };
    }
    if (feed === this.#pending && isVideoKeyframe(tag) && state.configs.has(FLV_VIDEO)) {
      if (!this.#keyframeTooRecent(state)) return this.#splice(feed, state, tag, out);
      this.#deferred = true;
      return { out };
    }
    if (feed !== this.#onAir || state.offset === undefined) return { out };

    let ts = tag.timestamp + state.offset;
    if (tag.type === FLV_VIDEO) {
      const last = this.#held.length ? this.#held[this.#held.length - 1].timestamp : this.#lastVideo;
      if (last >= 0 && (ts > last + MAX_FORWARD_JUMP_MS || ts < last - MAX_BACKWARD_JUMP_MS)) {
        // The feed's clock jumped without a restart being announced: hold until its next keyframe.
        this.restart(feed);
        return { out };
      }
      const placed = withTimestamp(tag, Math.max(ts, last));
      if (this.#switchingAway() && (isVideoKeyframe(tag) || this.#held.length)) {
        if (isVideoKeyframe(tag)) out.push(...this.#release());
        this.#held.push(placed);
        // The keyframe is far enough back now: nothing held could reach the next feed's decoder.
        if (this.#held.length > KEYFRAME_HOLD_FRAMES) out.push(...this.#release());
        return { out };
      }
      out.push(this.#video(placed));
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

  #splice(feed: string, state: FeedState, keyframe: FlvTag, out: FlvTag[]): PushResult {
    if (this.#held.length) {
      // Held frames start at a keyframe of the outgoing feed: written before another video config,
      // MSE players would decode that keyframe with the new feed's parameter sets. Same config: harmless.
      if (this.#videoConfig?.equals(payload(state.configs.get(FLV_VIDEO)!))) out.push(...this.#release());
      else this.#held = [];
    }
    const last = this.#lastVideo >= 0 ? this.#lastVideo : this.#lastAudio;
    const at = last < 0 ? 0 : last + this.#frameGap;
    if (this.#lastVideo >= 0) this.#largestJump = Math.max(this.#largestJump, at - this.#lastVideo);
    state.offset = at - keyframe.timestamp;
    // Audio already written past the splice point was heard; the new feed's audio for that span would overlap it.
    state.audioFrom = this.#lastAudio >= at ? this.#lastAudio + 1 : at;
    this.#onAir = feed;
    this.#pending = undefined;
    this.#deferred = false;
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
   * players decode that keyframe with the new parameter sets. Its next frames
   * push it back (and keyframes from now on are held), so the splice waits for
   * the next feed's following keyframe, once.
   */
  #keyframeTooRecent(next: FeedState): boolean {
    return (
      this.#switchingAway() &&
      !this.#deferred &&
      this.#sinceKeyframe < KEYFRAME_HOLD_FRAMES &&
      !this.#videoConfig?.equals(payload(next.configs.get(FLV_VIDEO)!))
    );
  }

  /** A switch to another feed is pending while a feed is on air. */
  #switchingAway(): boolean {
    return this.#pending !== undefined && this.#pending !== this.#onAir && this.#onAir !== undefined;
  }

  /** Writes the held frames. */
  #release(): FlvTag[] {
    const held = this.#held;
    this.#held = [];
    return held.map((tag) => this.#video(tag));
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
