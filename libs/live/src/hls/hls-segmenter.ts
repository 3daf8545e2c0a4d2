import { createHash } from 'node:crypto';
import { FLV_AUDIO, FLV_VIDEO, FlvTag } from '../program/flv';
import { AUDIO_TRACK, AudioConfig, initSegment, mediaFragment, parameterSets, parseAsc, parseAvcC, Sample, VIDEO_TIMESCALE, VIDEO_TRACK, VideoConfig, withParameterSets } from './fmp4';

export interface HlsSegmenterOptions {
  /** A segment ends at the first keyframe once it is at least this long (ms). Default 1000. */
  segmentTargetMs?: number;
  /** Part target (ms): parts end on any frame, never beyond this unless one frame is longer. Default 300. */
  partTargetMs?: number;
  /** Complete segments kept (and listed). Default 8. */
  windowSegments?: number;
  /** The newest complete segments whose parts are still listed, beside the open one. Default 3. */
  partSegments?: number;
  /** Wall clock (ms since the epoch) for EXT-X-PROGRAM-DATE-TIME; without it no dates are given. */
  now?: () => number;
  /** Continue the numbering of an earlier segmenter of the same channel (its segments are gone: the first one here is a discontinuity). */
  startAt?: HlsResumePoint;
}

/** Where a segmenter's numbering stopped, so a later one of the same channel never goes backwards. */
export interface HlsResumePoint {
  mediaSequence: number;
  discontinuitySequence: number;
  initId: number;
  /** The next block number (seed 002's blocks are the parts). */
  nextBlock?: number;
}

export interface HlsInit {
  id: number;
  data: Buffer;
  video: VideoConfig;
  audio?: AudioConfig;
}

export interface HlsPart {
  /** 0-based within its segment. */
  index: number;
  durationMs: number;
  /** Holds a keyframe. */
  independent: boolean;
  data: Buffer;
  /** Its number as a block (seed 002): from 0 in time order across the channel's program, whatever the segment. */
  block: number;
  /** SHA-256 of `data`, hex: how a viewer checks a block a peer gave it. */
  sha256: string;
}

export interface HlsSegment {
  msn: number;
  initId: number;
  /** Preceded by EXT-X-DISCONTINUITY (a new init: the codec configs changed). */
  discontinuity: boolean;
  /** Wall clock of its first frame (ms since the epoch), when the segmenter has a clock. */
  programDateTime?: number;
  /** Complete parts so far (all of them once the segment is complete). */
  parts: HlsPart[];
  /** Set once the segment is complete. */
  durationMs?: number;
  /** Set once the segment is complete: its parts back to back. */
  data?: Buffer;
}

/** What a playlist is built from. */
export interface HlsSnapshot {
  segmentTargetMs: number;
  partTargetMs: number;
  /** Longest segment seen, rounded up to whole seconds, never less than the segment target (it only grows). */
  targetDuration: number;
  mediaSequence: number;
  discontinuitySequence: number;
  /** Complete segments, oldest first. */
  segments: HlsSegment[];
  /** The segment being cut, with its complete parts. */
  open?: HlsSegment;
  partSegments: number;
  /** The newest init. */
  init?: HlsInit;
}

const AAC_FRAME_SAMPLES = 1024;
const AVC = 7;
const AAC = 10;

const equal = (a: Buffer | undefined, b: Buffer) => a !== undefined && a.equals(b);

/**
 * Cuts a program's FLV tags into fMP4 HLS segments and LL-HLS parts without
 * re-encoding. A segment starts at a keyframe and ends at the first keyframe
 * once it reached the segment target; parts of about the part target are cut
 * on any frame (those holding a keyframe are independent). A video frame is
 * written once the next one arrives (its duration is the gap between them),
 * so parts are exact. Audio gets AAC's 1024-sample frame durations, following
 * the FLV timestamps (rounded to ms) unless they stray by half a frame.
 *
 * Codec configs that differ from the current ones (another encoder spliced in)
 * start a new init and a discontinuity at the next keyframe (keyframes also
 * carry the SPS/PPS in-band, for readers that keep the first init); a config repeated
 * as it was (the program re-sends configs at every splice) changes nothing, so
 * a co-hosting switch with the same encoder settings is invisible here. Only
 * the newest `windowSegments` complete segments are kept; media sequence
 * numbers grow for ever. Pure: the owner feeds it and serves what it holds.
 */
export class HlsSegmenter {
  readonly #segmentTarget: number;
  readonly #partTarget: number;
  readonly #window: number;
  readonly #partSegments: number;
  readonly #now: (() => number) | undefined;
  readonly #listeners = new Set<() => void>();

  #avcC: Buffer | undefined;
  #asc: Buffer | undefined;
  #configChanged = false;
  #init: HlsInit | undefined;
  #parameterSets: ReturnType<typeof parameterSets> | undefined;
  readonly #inits = new Map<number, HlsInit>();
  #nextInitId: number;
  #pendingDiscontinuity: boolean;

  #segments: HlsSegment[] = [];
  #open: HlsSegment | undefined;
  #openStartDts = 0;
  #nextMsn: number;
  #discontinuitySequence: number;
  #longestSegmentMs = 0;

  #partVideo: Sample[] = [];
  #partAudio: Sample[] = [];
  #pendingVideo: Sample | undefined;
  #lastVideoDuration = VIDEO_TIMESCALE / 25;
  #audioNext: number | undefined;
  #fragmentSequence = 1;
  #nextBlock: number;
  #clockAnchor: { wall: number; dts: number } | undefined;

  constructor(o: HlsSegmenterOptions = {}) {
    this.#segmentTarget = o.segmentTargetMs ?? 1000;
    this.#partTarget = o.partTargetMs ?? 300;
    this.#window = Math.max(1, o.windowSegments ?? 8);
    this.#partSegments = Math.max(0, o.partSegments ?? 3);
    this.#now = o.now;
    this.#nextMsn = o.startAt?.mediaSequence ?? 0;
    this.#discontinuitySequence = o.startAt?.discontinuitySequence ?? 0;
    this.#nextInitId = o.startAt?.initId ?? 0;
    this.#pendingDiscontinuity = o.startAt !== undefined;
    this.#nextBlock = o.startAt?.nextBlock ?? 0;
  }

  /** Called after every new part or segment (for blocking playlist reloads). */
  onUpdate(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get resumePoint(): HlsResumePoint {
    const listed = [...this.#segments, ...(this.#open ? [this.#open] : [])];
    return {
      mediaSequence: this.#nextMsn,
      discontinuitySequence: this.#discontinuitySequence + listed.filter((s) => s.discontinuity).length,
      initId: this.#nextInitId,
      nextBlock: this.#nextBlock,
    };
  }

  snapshot(): HlsSnapshot {
    return {
      segmentTargetMs: this.#segmentTarget,
      partTargetMs: this.#partTarget,
      targetDuration: Math.max(Math.ceil(this.#segmentTarget / 1000), Math.round(this.#longestSegmentMs / 1000)),
      mediaSequence: this.#segments[0]?.msn ?? this.#open?.msn ?? this.#nextMsn,
      discontinuitySequence: this.#discontinuitySequence,
      segments: [...this.#segments],
      open: this.#open && { ...this.#open, parts: [...this.#open.parts] },
      partSegments: this.#partSegments,
      init: this.#init,
    };
  }

  init(id: number): HlsInit | undefined {
    return this.#inits.get(id);
  }

  segment(msn: number): HlsSegment | undefined {
    return this.#segments.find((s) => s.msn === msn);
  }

  part(msn: number, index: number): HlsPart | undefined {
    const segment = this.#open?.msn === msn ? this.#open : this.segment(msn);
    return segment?.parts[index];
  }

  /** True once segment `msn` is complete, or (with `part`) once that part of it exists; anything older counts as there. */
  has(msn: number, part?: number): boolean {
    const lastComplete = this.#segments.at(-1)?.msn;
    if (lastComplete !== undefined && msn <= lastComplete) return true;
    const open = this.#open;
    if (part === undefined || !open) return false;
    return msn < open.msn || (msn === open.msn && part < open.parts.length);
  }

  /** The part a player asks for next: the open segment's next one, or the first of the segment after. */
  get nextPart(): { msn: number; index: number } {
    return this.#open ? { msn: this.#open.msn, index: this.#open.parts.length } : { msn: this.#nextMsn, index: 0 };
  }

  /**
   * Ends the stream: the held video frame is written (with the previous
   * frame's duration) and the open segment completes, so a recording that
   * stops keeps its last frames. Later tags start a new segment.
   */
  flush(): void {
    const pending = this.#pendingVideo;
    if (pending) this.#finishPendingVideo(pending.dts + this.#lastVideoDuration);
    this.#closeSegment();
  }

  push(tag: FlvTag): void {
    if (tag.type === FLV_VIDEO) this.#video(tag);
    else if (tag.type === FLV_AUDIO) this.#audio(tag);
  }

  #video(tag: FlvTag): void {
    const raw = tag.raw;
    if (raw.length < 11 + 5 + 4 || (raw[11] & 0x0f) !== AVC) return;
    const packetType = raw[12];
    const body = raw.subarray(16, raw.length - 4);
    if (packetType === 0) {
      if (!equal(this.#avcC, body)) {
        this.#avcC = Buffer.from(body);
        this.#configChanged = true;
      }
      return;
    }
    if (packetType !== 1 || !this.#avcC) return;
    const keyframe = raw[11] >> 4 === 1;
    const dts = tag.timestamp * (VIDEO_TIMESCALE / 1000);
    const cts = (raw.readIntBE(13, 3) * VIDEO_TIMESCALE) / 1000;
    const sample: Sample = { dts, cts, duration: 0, keyframe, data: body };
    if (!this.#init || this.#configChanged) {
      if (!keyframe) return;
      if (!this.#newInit()) return;
      this.#finishPendingVideo(dts);
      this.#closeSegment();
      if (this.#inits.size > 1) this.#pendingDiscontinuity = true;
    } else {
      this.#finishPendingVideo(dts);
      if (keyframe && this.#open && dts - this.#openStartDts >= (this.#segmentTarget * VIDEO_TIMESCALE) / 1000) this.#closeSegment();
    }
    if (!this.#open) this.#openSegment(dts);
    if (keyframe && this.#parameterSets) sample.data = withParameterSets(sample.data, this.#parameterSets);
    this.#pendingVideo = sample;
  }

  #audio(tag: FlvTag): void {
    const raw = tag.raw;
    if (raw.length < 11 + 2 + 4 || raw[11] >> 4 !== AAC) return;
    const body = raw.subarray(13, raw.length - 4);
    if (raw[12] === 0) {
      if (!equal(this.#asc, body)) {
        this.#asc = Buffer.from(body);
        // Before the first init the config simply joins it; later it needs a new one at the next keyframe.
        if (this.#init) this.#configChanged = true;
      }
      return;
    }
    // Audio waits for the picture: it joins the first segment, and none is written under a config about to change.
    if (!this.#init || !this.#open || this.#configChanged || !this.#init.audio) return;
    const rate = this.#init.audio.sampleRate;
    const at = Math.round((tag.timestamp * rate) / 1000);
    const dts = this.#audioNext !== undefined && Math.abs(at - this.#audioNext) < AAC_FRAME_SAMPLES / 2 ? this.#audioNext : at;
    this.#audioNext = dts + AAC_FRAME_SAMPLES;
    this.#partAudio.push({ dts, cts: 0, duration: AAC_FRAME_SAMPLES, keyframe: true, data: body });
  }

  /** Builds the init for the current configs; false while they cannot make one (a config that does not parse). */
  #newInit(): boolean {
    let video: VideoConfig;
    let audio: AudioConfig | undefined;
    try {
      video = parseAvcC(this.#avcC!);
      audio = this.#asc ? parseAsc(this.#asc) : undefined;
    } catch {
      return false;
    }
    const init: HlsInit = { id: this.#nextInitId++, data: initSegment(video, audio), video, audio };
    this.#inits.set(init.id, init);
    this.#init = init;
    this.#parameterSets = parameterSets(video.avcC);
    this.#configChanged = false;
    this.#audioNext = undefined;
    return true;
  }

  /** The held frame's duration is now known: it goes into the part (the part ends first if it would grow past the target). */
  #finishPendingVideo(nextDts: number): void {
    const pending = this.#pendingVideo;
    if (!pending) return;
    this.#pendingVideo = undefined;
    pending.duration = nextDts > pending.dts ? nextDts - pending.dts : this.#lastVideoDuration;
    this.#lastVideoDuration = pending.duration;
    if (this.#partVideo.length && this.#partVideoDuration() + pending.duration > (this.#partTarget * VIDEO_TIMESCALE) / 1000) this.#closePart();
    this.#partVideo.push(pending);
  }

  #partVideoDuration(): number {
    return this.#partVideo.reduce((n, s) => n + s.duration, 0);
  }

  #openSegment(dts: number): void {
    if (this.#now && !this.#clockAnchor) this.#clockAnchor = { wall: this.#now(), dts };
    const anchor = this.#clockAnchor;
    this.#open = {
      msn: this.#nextMsn++,
      initId: this.#init!.id,
      discontinuity: this.#pendingDiscontinuity,
      programDateTime: anchor && Math.round(anchor.wall + ((dts - anchor.dts) * 1000) / VIDEO_TIMESCALE),
      parts: [],
    };
    this.#pendingDiscontinuity = false;
    this.#openStartDts = dts;
  }

  #closePart(): void {
    const open = this.#open;
    if (!open || (this.#partVideo.length === 0 && this.#partAudio.length === 0)) return;
    const video = this.#partVideo;
    const audio = this.#partAudio;
    this.#partVideo = [];
    this.#partAudio = [];
    const durationMs = video.length
      ? (video.reduce((n, s) => n + s.duration, 0) * 1000) / VIDEO_TIMESCALE
      : (audio.length * AAC_FRAME_SAMPLES * 1000) / (this.#init?.audio?.sampleRate ?? 48000);
    const data = mediaFragment(this.#fragmentSequence++, [
      { trackId: VIDEO_TRACK, samples: video },
      { trackId: AUDIO_TRACK, samples: audio },
    ]);
    const sha256 = createHash('sha256').update(data).digest('hex');
    open.parts.push({ index: open.parts.length, durationMs, independent: video.some((s) => s.keyframe), data, block: this.#nextBlock++, sha256 });
    this.#notify();
  }

  #closeSegment(): void {
    this.#closePart();
    const segment = this.#open;
    if (!segment) return;
    this.#open = undefined;
    if (segment.parts.length === 0) {
      this.#nextMsn--;
      if (segment.discontinuity) this.#pendingDiscontinuity = true;
      return;
    }
    // One buffer for the segment; its parts become views of it.
    const data = Buffer.concat(segment.parts.map((p) => p.data));
    let offset = 0;
    segment.parts = segment.parts.map((p) => {
      const view = { ...p, data: data.subarray(offset, offset + p.data.length) };
      offset += p.data.length;
      return view;
    });
    segment.data = data;
    segment.durationMs = segment.parts.reduce((n, p) => n + p.durationMs, 0);
    this.#longestSegmentMs = Math.max(this.#longestSegmentMs, segment.durationMs);
    this.#segments.push(segment);
    while (this.#segments.length > this.#window) {
      const dropped = this.#segments.shift()!;
      if (dropped.discontinuity) this.#discontinuitySequence++;
    }
    const oldestInit = this.#segments[0].initId;
    for (const id of this.#inits.keys()) if (id < oldestInit) this.#inits.delete(id);
    this.#notify();
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}
