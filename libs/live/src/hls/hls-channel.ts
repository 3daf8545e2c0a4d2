import { FlvTag } from '../program/flv';
import { mediaPlaylist, multivariantPlaylist } from './hls-playlist';
import { HlsInit, HlsPart, HlsResumePoint, HlsSegment, HlsSegmenter, HlsSegmenterOptions, HlsSnapshot } from './hls-segmenter';

/** A block as the origin lists it (seed 002): a part of the program, with what a peer's copy must hash to. */
export interface BlockInfo {
  n: number;
  msn: number;
  part: number;
  durationMs: number;
  bytes: number;
  sha256: string;
  independent: boolean;
}

/** How a playlist request with LL-HLS delivery directives (`_HLS_msn`, `_HLS_part`) is answered. */
export type ReloadDecision = { kind: 'now' } | { kind: 'wait'; until: () => boolean } | { kind: 'bad'; reason: string };

interface Waiter {
  until: () => boolean;
  done: (ready: boolean) => void;
}

/**
 * One channel's HLS: the segmenter fed with the program's tags, and the
 * requests held until what they ask for exists (blocking playlist reload,
 * the hinted next part). Owned by the channel's program; `close()` (when the
 * program ends) releases every held request and drops the segments.
 */
export class HlsChannel {
  #segmenter: HlsSegmenter | undefined;
  readonly #waiters = new Set<Waiter>();
  readonly #partTargetMs: number;
  #resumePoint: HlsResumePoint | undefined;

  constructor(o: HlsSegmenterOptions = {}) {
    this.#segmenter = new HlsSegmenter(o);
    this.#partTargetMs = o.partTargetMs ?? 300;
    this.#segmenter.onUpdate(() => this.#wake());
  }

  get closed(): boolean {
    return this.#segmenter === undefined;
  }

  push(tag: FlvTag): void {
    this.#segmenter?.push(tag);
  }

  snapshot(): HlsSnapshot | undefined {
    return this.#segmenter?.snapshot();
  }

  /** True once there is something to play (a complete segment). */
  get ready(): boolean {
    return (this.#segmenter?.snapshot().segments.length ?? 0) > 0;
  }

  /** Where numbering stopped (for the channel's next program), also after close. */
  get resumePoint(): HlsResumePoint | undefined {
    return this.#segmenter?.resumePoint ?? this.#resumePoint;
  }

  /** How long a held request may wait: three target durations (RFC 8216bis 6.2.5.2). */
  get holdMs(): number {
    return 3 * 1000 * (this.#segmenter?.snapshot().targetDuration ?? 1);
  }

  playlist(lowLatency: boolean): string | undefined {
    const s = this.#segmenter?.snapshot();
    return s && mediaPlaylist(s, { lowLatency });
  }

  multivariant(mediaUri: string): string | undefined {
    const s = this.#segmenter?.snapshot();
    return s && multivariantPlaylist(s, mediaUri);
  }

  init(id: number): HlsInit | undefined {
    return this.#segmenter?.init(id);
  }

  segment(msn: number): HlsSegment | undefined {
    const segment = this.#segmenter?.segment(msn);
    return segment?.data ? segment : undefined;
  }

  part(msn: number, index: number): HlsPart | undefined {
    return this.#segmenter?.part(msn, index);
  }

  /** Every block still held (the listed segments' parts and the open segment's), oldest first. */
  blocks(): BlockInfo[] {
    const s = this.#segmenter?.snapshot();
    if (!s) return [];
    const out: BlockInfo[] = [];
    for (const seg of s.open ? [...s.segments, s.open] : s.segments) {
      for (const p of seg.parts) out.push({ n: p.block, msn: seg.msn, part: p.index, durationMs: p.durationMs, bytes: p.data.length, sha256: p.sha256, independent: p.independent });
    }
    return out;
  }

  /** The complete segments and the blocks they are made of (a segment is its parts back to back). */
  segmentBlocks(): { msn: number; firstBlock: number; blocks: number }[] {
    const s = this.#segmenter?.snapshot();
    return (s?.segments ?? []).map((seg) => ({ msn: seg.msn, firstBlock: seg.parts[0].block, blocks: seg.parts.length }));
  }

  /** Block `n`, while it is held. */
  block(n: number): HlsPart | undefined {
    const s = this.#segmenter?.snapshot();
    if (!s) return undefined;
    for (const seg of s.open ? [...s.segments, s.open] : s.segments) {
      const first = seg.parts[0]?.block;
      if (first !== undefined && n >= first && n < first + seg.parts.length) return seg.parts[n - first];
    }
    return undefined;
  }

  /** The newest block's number, or -1 before the first. */
  get newestBlock(): number {
    const s = this.#segmenter?.snapshot();
    const last = s?.open?.parts.at(-1) ?? s?.segments.at(-1)?.parts.at(-1);
    return last?.block ?? -1;
  }

  /** True if `part` of segment `msn` is what will be cut next, or shortly after (a player following the preload hint). */
  isUpcomingPart(msn: number, index: number): boolean {
    const next = this.#segmenter?.nextPart;
    if (!next) return false;
    return (msn === next.msn && index >= next.index && index <= next.index + 1) || (msn === next.msn + 1 && index === 0);
  }

  /**
   * Delivery directives (RFC 8216bis 6.2.5.2): `_HLS_part` needs `_HLS_msn`;
   * a segment more than two past the newest, or a part beyond the Advance
   * Part Limit (3 s of parts), is a bad request; what exists is answered now,
   * the rest waits for it.
   */
  reloadDecision(msn: number | undefined, part: number | undefined): ReloadDecision {
    const segmenter = this.#segmenter;
    if (msn === undefined) return part === undefined ? { kind: 'now' } : { kind: 'bad', reason: '_HLS_part requires _HLS_msn' };
    if (!segmenter) return { kind: 'now' };
    const s = segmenter.snapshot();
    const newest = s.open && s.open.parts.length ? s.open.msn : (s.segments.at(-1)?.msn ?? s.mediaSequence - 1);
    if (msn > newest + 2) return { kind: 'bad', reason: `_HLS_msn=${msn} is more than two segments past the newest (${newest})` };
    const advancePartLimit = Math.ceil(3000 / Math.min(this.#partTargetMs, 1000));
    if (part !== undefined && msn === newest && s.open?.msn === msn && part > s.open.parts.length - 1 + advancePartLimit) {
      return { kind: 'bad', reason: `_HLS_part=${part} is beyond the advance part limit` };
    }
    if (segmenter.has(msn, part)) return { kind: 'now' };
    return { kind: 'wait', until: () => segmenter.has(msn, part) };
  }

  /** Resolves true once `until()` holds (checked at every new part), false after `timeoutMs` or at close. */
  waitFor(until: () => boolean, timeoutMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (until()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        until,
        done: (ready) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(ready);
        },
      };
      const timer = setTimeout(() => waiter.done(false), timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Releases held requests and drops every segment. Idempotent. */
  close(): void {
    if (!this.#segmenter) return;
    this.#resumePoint = this.#segmenter.resumePoint;
    this.#segmenter = undefined;
    for (const waiter of [...this.#waiters]) waiter.done(false);
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) if (waiter.until()) waiter.done(true);
  }
}
