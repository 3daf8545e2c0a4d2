import { FLV_AUDIO, FLV_SCRIPT, FLV_VIDEO, FlvTag, isCodecConfig, isVideoKeyframe, withTimestamp } from './flv';

interface FeedState {
  /** Latest codec configs seen on this feed, by tag type. */
  configs: Map<number, FlvTag>;
  /** Added to the feed's timestamps once it is on air; undefined until its splice. */
  offset: number | undefined;
  /** The feed's own timestamp of the keyframe it was spliced in at. */
  spliceAt: number;
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
 * One channel's program timeline: several feeds (the host's source, a mix)
 * offer FLV tags, exactly one is on air, and a switch happens at the next
 * keyframe of the feed switched to, never mid-GOP. The output keeps one
 * timeline: the spliced keyframe follows the last frame written by one frame
 * interval, codec configs of the new feed are written just before it, audio
 * from before the splice point is dropped, and timestamps never go back.
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
    this.#pending = feed === this.#onAir && this.#feeds.get(feed)!.offset !== undefined ? undefined : feed;
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
    if (this.#onAir === feed) this.#onAir = undefined;
  }

  push(feed: string, tag: FlvTag): PushResult {
    const state = this.#state(feed);
    if (tag.type === FLV_SCRIPT) return { out: [] };
    if (isCodecConfig(tag)) {
      state.configs.set(tag.type, tag);
      // A config change inside the feed on air (e.g. its encoder restarted) is passed on in place.
      if (feed === this.#onAir && state.offset !== undefined && this.#pending !== feed) {
        return { out: [withTimestamp(tag, Math.max(this.#lastVideo, this.#lastAudio, 0))] };
      }
      return { out: [] };
    }
    if (feed === this.#pending && isVideoKeyframe(tag) && state.configs.has(FLV_VIDEO)) return this.#splice(feed, state, tag);
    if (feed !== this.#onAir || state.offset === undefined) return { out: [] };

    let ts = tag.timestamp + state.offset;
    if (tag.type === FLV_VIDEO) {
      if (this.#lastVideo >= 0 && (ts > this.#lastVideo + MAX_FORWARD_JUMP_MS || ts < this.#lastVideo - MAX_BACKWARD_JUMP_MS)) {
        // The feed's clock jumped without a restart being announced: hold until its next keyframe.
        this.restart(feed);
        return { out: [] };
      }
      ts = Math.max(ts, this.#lastVideo);
      if (this.#lastVideo >= 0) {
        const step = ts - this.#lastVideo;
        if (step > 0) this.#frameGap = Math.min(100, Math.max(10, step));
        this.#largestJump = Math.max(this.#largestJump, step);
      }
      this.#lastVideo = ts;
    } else if (tag.type === FLV_AUDIO) {
      // Audio the feed captured before its splice point belongs to the previous feed's time.
      if (tag.timestamp < state.spliceAt) return { out: [] };
      ts = Math.max(ts, this.#lastAudio);
      this.#lastAudio = ts;
    }
    return { out: [withTimestamp(tag, ts)] };
  }

  #splice(feed: string, state: FeedState, keyframe: FlvTag): PushResult {
    const last = this.#lastVideo >= 0 ? this.#lastVideo : this.#lastAudio;
    const at = last < 0 ? 0 : last + this.#frameGap;
    if (this.#lastVideo >= 0) this.#largestJump = Math.max(this.#largestJump, at - this.#lastVideo);
    state.offset = at - keyframe.timestamp;
    state.spliceAt = keyframe.timestamp;
    this.#onAir = feed;
    this.#pending = undefined;
    this.#lastVideo = at;
    this.#lastAudio = Math.max(this.#lastAudio, at);
    const out = [...state.configs.values()].map((config) => withTimestamp(config, at));
    out.push(withTimestamp(keyframe, at));
    return { out, switched: feed };
  }

  #state(feed: string): FeedState {
    let state = this.#feeds.get(feed);
    if (!state) {
      state = { configs: new Map(), offset: undefined, spliceAt: 0 };
      this.#feeds.set(feed, state);
    }
    return state;
  }
}
