import { closeSync, fsync, ftruncateSync, fsyncSync, openSync, write } from 'node:fs';
import { LineLogger, TypedEmitter } from '@gw/common';
import { HlsSegmenter } from '../hls/hls-segmenter';
import { FLV_SCRIPT, FlvTag, isCodecConfig, isVideoKeyframe, withTimestamp } from '../program/flv';

export interface RecordingWriterOptions {
  /** The fragmented MP4 to write (created, or appended to). */
  file: string;
  name: string;
  /** Flushed to the disk (fsync) at least this often while media arrives. Default 2000 ms. */
  syncIntervalMs?: number;
  /** Fragments are cut about this long (ms); a crash loses at most the one being cut. Default 500. */
  fragmentMs?: number;
  /** Bytes waiting for the disk beyond which the recording fails rather than grow memory (a disk that cannot keep up). Default 64 MiB. */
  maxQueuedBytes?: number;
  logger: LineLogger;
}

/** A step forward in the source's timestamps larger than this is a gap, closed up in the recording. */
const MAX_STEP_MS = 1000;
/** Where the media after a gap is placed: one frame after the last. */
const STEP_AFTER_GAP_MS = 40;

interface RecordingWriterEvents extends Record<string, unknown[]> {
  /** Writing failed (disk full, an I/O error); what was written before is whole and kept. Emitted once. */
  failed: [{ reason: string; code?: string }];
}

/**
 * Writes FLV tags (a channel's program, a mix task's output) as a fragmented
 * MP4, without re-encoding: the HLS segmenter cuts them into fMP4 fragments
 * (its muxer, its handling of configs, durations and keyframes) and each
 * fragment is appended as it is cut, the init before the first one and again
 * where the codec configs change. Writes go one at a time and are flushed
 * every `syncIntervalMs`, so after a crash the file holds whole fragments up
 * to about the last one and plays to there (a torn tail is cut off at the next
 * start, see indexFmp4). Timestamps start at 0 at the first keyframe, and a
 * jump forward of more than a second (the channel off air for a while, an
 * origin's stale keyframe before the live edge) is closed up: the recording
 * holds the media, not the waits between it.
 *
 * Writing never throws into the caller (the live program): a failure ends
 * the writer, cuts the file back to its last whole fragment and is reported
 * once as `failed`.
 */
export class RecordingWriter extends TypedEmitter<RecordingWriterEvents> {
  readonly #o: Required<Omit<RecordingWriterOptions, 'logger'>> & { logger: LineLogger };
  readonly #segmenter: HlsSegmenter;
  #fd: number | undefined;
  #base: number | undefined;
  /** Gaps taken out of the timeline so far (ms). */
  #shift = 0;
  /** Latest media timestamp written (ms), -1 before any. */
  #last = -1;
  /** Where the segmenter's output has been taken up to. */
  #msn = 0;
  #parts = 0;
  #initId: number | undefined;
  #queue: Promise<void> = Promise.resolve();
  #queuedBytes = 0;
  /** End of the last init or fragment wholly on disk. */
  #wholeBytes: number;
  #unsynced = false;
  #durationMs = 0;
  readonly #timer: NodeJS.Timeout;
  #closed = false;
  #failure: { reason: string; code?: string } | undefined;

  /** Opens (creates) the file; throws if it cannot be opened. */
  constructor(o: RecordingWriterOptions) {
    super();
    this.#o = { syncIntervalMs: 2000, fragmentMs: 500, maxQueuedBytes: 64 * 1024 * 1024, ...o };
    this.#fd = openSync(o.file, 'a');
    this.#wholeBytes = 0;
    this.#segmenter = new HlsSegmenter({ segmentTargetMs: 2000, partTargetMs: this.#o.fragmentMs, windowSegments: 2, partSegments: 0 });
    this.#segmenter.onUpdate(() => this.#takeFragments());
    this.#timer = setInterval(() => this.#sync(), this.#o.syncIntervalMs);
    this.#timer.unref();
  }

  /** Media written so far (ms), whole fragments only. */
  get durationMs(): number {
    return this.#durationMs;
  }

  get bytes(): number {
    return this.#wholeBytes;
  }

  get failure(): { reason: string; code?: string } | undefined {
    return this.#failure;
  }

  /** Takes the next tag of the source. Never throws. */
  push(tag: FlvTag): void {
    if (this.#closed) return;
    try {
      if (this.#base === undefined) {
        if (isVideoKeyframe(tag)) this.#base = tag.timestamp;
        else if (!isCodecConfig(tag)) return;
      }
      let ts = tag.timestamp - (this.#base ?? tag.timestamp) - this.#shift;
      if (!isCodecConfig(tag) && tag.type !== FLV_SCRIPT) {
        // A jump forward (a source that was away, an origin's stale GOP before the live edge) is closed up.
        if (this.#last >= 0 && ts > this.#last + MAX_STEP_MS) {
          this.#shift += ts - (this.#last + STEP_AFTER_GAP_MS);
          ts = this.#last + STEP_AFTER_GAP_MS;
        }
        this.#last = Math.max(this.#last, ts);
      }
      ts = Math.max(0, ts);
      this.#segmenter.push(ts === tag.timestamp ? tag : withTimestamp(tag, ts));
    } catch (error) {
      this.#fail({ reason: `could not mux the stream: ${(error as Error).message}` });
    }
  }

  /**
   * Writes what is held (the last frames), flushes and closes the file.
   * Resolves once it is on disk. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      try {
        this.#segmenter.flush();
      } catch (error) {
        this.#fail({ reason: `could not mux the stream: ${(error as Error).message}` });
      }
      this.#closed = true;
      clearInterval(this.#timer);
      this.#enqueue(() => this.#syncNow());
    }
    await this.#queue;
    this.#closeFd();
  }

  #takeFragments(): void {
    if (this.#failure) return;
    const s = this.#segmenter.snapshot();
    for (const segment of [...s.segments, ...(s.open ? [s.open] : [])]) {
      if (segment.msn < this.#msn) continue;
      if (segment.msn > this.#msn) {
        this.#msn = segment.msn;
        this.#parts = 0;
      }
      while (this.#parts < segment.parts.length) {
        const part = segment.parts[this.#parts++];
        if (segment.initId !== this.#initId) {
          const init = this.#segmenter.init(segment.initId);
          if (!init) continue;
          this.#initId = segment.initId;
          this.#append(init.data, 0);
        }
        this.#append(part.data, part.durationMs);
      }
    }
  }

  #append(data: Buffer, durationMs: number): void {
    if (this.#queuedBytes + data.length > this.#o.maxQueuedBytes) {
      this.#fail({ reason: `the disk does not keep up (${this.#queuedBytes} bytes waiting)` });
      return;
    }
    this.#queuedBytes += data.length;
    this.#enqueue(async () => {
      try {
        await this.#writeAll(data);
      } finally {
        this.#queuedBytes -= data.length;
      }
      this.#wholeBytes += data.length;
      this.#durationMs += durationMs;
      this.#unsynced = true;
    });
  }

  #writeAll(data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const fd = this.#fd;
      if (fd === undefined) return reject(new Error('closed'));
      const next = (offset: number) =>
        write(fd, data, offset, data.length - offset, null, (error, written) => {
          if (error) return reject(error);
          if (offset + written < data.length) next(offset + written);
          else resolve();
        });
      next(0);
    });
  }

  #sync(): void {
    if (this.#unsynced && !this.#failure) this.#enqueue(() => this.#syncNow());
  }

  #syncNow(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#fd === undefined || !this.#unsynced) return resolve();
      this.#unsynced = false;
      fsync(this.#fd, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Runs `work` after everything queued; the first failure ends the writer and skips what follows. */
  #enqueue(work: () => Promise<void>): void {
    this.#queue = this.#queue.then(async () => {
      if (this.#failure) return;
      try {
        await work();
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        this.#fail({ reason: code === 'ENOSPC' ? 'the disk is full (ENOSPC)' : `could not write: ${(error as Error).message}`, code });
      }
    });
  }

  #fail(failure: { reason: string; code?: string }): void {
    if (this.#failure) return;
    this.#failure = failure;
    this.#closed = true;
    clearInterval(this.#timer);
    // Cut a torn fragment off (it also gives its space back) and keep what is whole.
    try {
      if (this.#fd !== undefined) {
        ftruncateSync(this.#fd, this.#wholeBytes);
        fsyncSync(this.#fd);
      }
    } catch (error) {
      this.#o.logger.warn(`${this.#o.name}: could not cut the file back to its last whole fragment: ${(error as Error).message}`);
    }
    this.#o.logger.warn(`${this.#o.name}: recording failed: ${failure.reason}`);
    this.emit('failed', failure);
  }

  #closeFd(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // already gone
    }
  }
}
