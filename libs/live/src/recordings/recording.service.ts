import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statfsSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, FfmpegJob, LineLogger, newId, NotFoundError, runFfmpegJob, UnavailableError } from '@gw/common';
import { RecordingRecord, RecordingRepository } from '@gw/persistence';
import { ChannelNotFoundError, ChannelService } from '../channel.service';
import { FlvTag, FlvTagReader } from '../program/flv';
import { ProgramService } from '../program/program.service';
import { Fmp4Index, indexedDurationMs, indexFmp4 } from './fmp4-index';
import { finaliseArgs, isRecordingId, RECORDING_FILES, recordingDir } from './recording-files';
import { recordingPlaylist } from './recording-playlist';
import { nextRecordingState, RecordingEvent } from './recording-state';
import { RecordingWriter } from './recording-writer';

export class RecordingNotFoundError extends NotFoundError {
  constructor(id: string) {
    super(`recording ${id} not found`, 'RECORDING_NOT_FOUND');
  }
}

export class RecordingInProgressError extends ConflictError {
  constructor(what: string, id: string) {
    super(`${what} is already being recorded (${id})`, 'RECORDING_IN_PROGRESS');
  }
}

export class DiskFullError extends UnavailableError {
  constructor(freeBytes: number, minBytes: number) {
    super(`only ${Math.floor(freeBytes / 1048576)} MiB free for recordings, ${Math.floor(minBytes / 1048576)} MiB needed (RECORDING_MIN_FREE_MB)`, 'DISK_FULL');
  }
}

/** Any FLV tag source a recording can follow: a channel's program, a mix task's output. */
export interface RecordingSource {
  /** Hears every tag from now on; returns the unsubscribe. */
  tap(listener: (tag: FlvTag) => void): () => void;
  /** What a new reader needs first (FLV header, configs, the current GOP), or null before any. */
  snapshot(): Buffer | null;
}

export interface RecordingServiceOptions {
  /** DATA_DIR/recordings. */
  dir: string;
  /** Free bytes needed there to start a recording. */
  minFreeBytes: number;
  ffmpegPath: string;
  /** The longest an MP4 finalisation may take before it is given up (the fragmented file stays). Default 120 s. */
  finaliseTimeoutMs?: number;
  logger: LineLogger;
}

/** What a recording is of, and who may read it besides admins. */
export interface RecordingSubject {
  channelId?: string;
  mixTaskId?: string;
  ownerUserId?: string;
}

interface Active {
  record: RecordingRecord;
  writer: RecordingWriter;
  untap: () => void;
  /** Settles once the recording has ended and is saved (and its MP4 finalised, or given up). */
  ended?: Promise<RecordingRecord>;
}

/**
 * Recordings (one owner: this service). A recording follows a source's FLV
 * tags (a channel's program, so it is continuous across co-hosting switches,
 * encoder restarts and origin restarts, or a mix task's own output) into a
 * fragmented MP4 under DATA_DIR/recordings/<id>/, flushed as it goes; on stop
 * the fragmented file is turned into a normal MP4 by ffmpeg (-c copy), and it
 * stays as the HLS playlist's media. Rows in SQLite say what each recording is
 * and how it ended; one left `recording` by a crash becomes `interrupted` at
 * the next start, its torn tail cut off and an MP4 made from what is whole.
 */
export class RecordingService {
  readonly #active = new Map<string, Active>();
  readonly #indexes = new Map<string, Fmp4Index>();
  /** MP4 finalisations running (cancelled on shutdown: the next start makes them again). */
  readonly #jobs = new Set<FfmpegJob>();
  #shuttingDown = false;

  constructor(
    private readonly repository: RecordingRepository,
    private readonly channels: ChannelService,
    private readonly programs: ProgramService,
    private readonly o: RecordingServiceOptions,
  ) {}

  /** At start: recordings a crash left `recording` become `interrupted`; their MP4s are made in the background. */
  recover(): void {
    const interrupted: RecordingRecord[] = [];
    for (const record of this.repository.listInState('recording')) {
      const dir = recordingDir(this.o.dir, record.id);
      const file = join(dir, RECORDING_FILES.fragmented);
      let durationMs = record.durationMs;
      try {
        if (existsSync(file)) {
          const index = this.#index(record.id, file);
          if (index.wholeLength < statSync(file).size) truncateSync(file, index.wholeLength);
          durationMs = indexedDurationMs(index);
        }
      } catch (error) {
        this.o.logger.warn(`recording ${record.id}: could not read back its file: ${(error as Error).message}`);
      }
      const next = this.#transition(record, { kind: 'recover' }, { durationMs, endedAt: record.endedAt ?? Date.now(), reason: 'the gateway stopped while recording' });
      this.o.logger.log(`recording ${record.id}: interrupted (${(durationMs / 1000).toFixed(1)} s kept)`);
      interrupted.push(next);
    }
    // Those a clean shutdown left without an MP4 too.
    const pending = [...interrupted, ...this.repository.listInState('interrupted').filter((r) => !r.hasMp4 && !interrupted.some((i) => i.id === r.id))];
    void (async () => {
      for (const record of pending) await this.#finalise(record);
    })();
  }

  /** Starts recording a channel's program (the channel need not be live: it records from when its program writes). */
  startChannel(channelId: string, subject: Omit<RecordingSubject, 'channelId'> = {}): RecordingRecord {
    if (!this.channels.exists(channelId)) throw new ChannelNotFoundError(channelId);
    const busy = [...this.#active.values()].find((a) => a.record.channelId === channelId && !a.ended);
    if (busy) throw new RecordingInProgressError(`channel ${channelId}`, busy.record.id);
    return this.#start({ ...subject, channelId }, {
      tap: (listener) => this.programs.tap(channelId, listener),
      snapshot: () => this.programs.snapshot(channelId),
    });
  }

  /** Starts recording any tag source (a mix task's output). */
  startSource(source: RecordingSource, subject: RecordingSubject): RecordingRecord {
    const busy = subject.mixTaskId && [...this.#active.values()].find((a) => a.record.mixTaskId === subject.mixTaskId && !a.record.channelId && !a.ended);
    if (busy) throw new RecordingInProgressError(`mix task ${subject.mixTaskId}`, busy.record.id);
    return this.#start(subject, source);
  }

  /** Stops a recording (done) and finalises its MP4. Resolves with the recording as it ended; a recording that already ended is returned as it is. */
  async stop(id: string): Promise<RecordingRecord> {
    const active = this.#active.get(id);
    if (!active) return this.get(id);
    return this.#end(active, { kind: 'stop' });
  }

  get(id: string): RecordingRecord {
    const active = this.#active.get(id);
    if (active) return { ...active.record, durationMs: active.writer.durationMs };
    const record = isRecordingId(id) ? this.repository.find(id) : undefined;
    if (!record) throw new RecordingNotFoundError(id);
    return record;
  }

  listByChannel(channelId: string): RecordingRecord[] {
    if (!this.channels.exists(channelId)) throw new ChannelNotFoundError(channelId);
    return this.repository.listByChannel(channelId).map((r) => (this.#active.has(r.id) ? this.get(r.id) : r));
  }

  /** The recording running for a channel, if any. */
  activeForChannel(channelId: string): RecordingRecord | undefined {
    const active = [...this.#active.values()].find((a) => a.record.channelId === channelId && !a.ended);
    return active && this.get(active.record.id);
  }

  /** Path of a file of the recording, for download; NOT_FOUND until it exists. */
  filePath(id: string, name: typeof RECORDING_FILES.fragmented | typeof RECORDING_FILES.mp4): string {
    const record = this.get(id);
    if (name === RECORDING_FILES.mp4 && !record.hasMp4) throw new NotFoundError(`recording ${id} has no MP4 yet`, 'RECORDING_FILE_NOT_FOUND');
    const path = join(recordingDir(this.o.dir, id), name);
    if (!existsSync(path)) throw new NotFoundError(`recording ${id} has no ${name}`, 'RECORDING_FILE_NOT_FOUND');
    return path;
  }

  /** The recording as HLS: VOD once it ended, a growing EVENT playlist while it records. */
  playlist(id: string): string {
    const record = this.get(id);
    const file = join(recordingDir(this.o.dir, id), RECORDING_FILES.fragmented);
    const index = existsSync(file) ? this.#index(id, file) : { inits: [], fragments: [], wholeLength: 0 };
    return recordingPlaylist(index, { mediaUri: RECORDING_FILES.fragmented, ended: record.state !== 'recording' });
  }

  /**
   * Shutdown: every running recording is flushed and closed as `interrupted`
   * (the gateway stopped, nobody stopped it); the next start makes its MP4.
   */
  async closeAll(): Promise<void> {
    this.#shuttingDown = true;
    await Promise.all([...this.#active.values()].map((a) => this.#end(a, { kind: 'recover' })));
    for (const job of this.#jobs) job.cancel();
    await Promise.all([...this.#jobs].map((job) => job.done));
  }

  #start(subject: RecordingSubject, source: RecordingSource): RecordingRecord {
    if (this.#shuttingDown) throw new ConflictError('the gateway is shutting down', 'SHUTTING_DOWN');
    mkdirSync(this.o.dir, { recursive: true });
    this.#checkFreeSpace();
    const id = newId('rec');
    const dir = recordingDir(this.o.dir, id);
    mkdirSync(dir, { recursive: true });
    const record: RecordingRecord = { id, ...subject, state: 'recording', startedAt: Date.now(), durationMs: 0, hasMp4: false };
    let writer: RecordingWriter;
    try {
      writer = new RecordingWriter({ file: join(dir, RECORDING_FILES.fragmented), name: `recording ${id}`, logger: this.o.logger });
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw new DiskFullError(0, this.o.minFreeBytes);
      throw error;
    }
    try {
      this.repository.insert(record);
    } catch (error) {
      void writer.close();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    // The snapshot and the tap in one go: nothing is written between them, so nothing is missed or doubled.
    const first = source.snapshot();
    const untap = source.tap((tag) => writer.push(tag));
    if (first) for (const tag of new FlvTagReader().push(first)) writer.push(tag);
    const active: Active = { record, writer, untap };
    this.#active.set(id, active);
    writer.once('failed', ({ reason }) => void this.#end(active, { kind: 'fail', reason }));
    const what = subject.channelId ? `channel ${subject.channelId}` : `mix task ${subject.mixTaskId}`;
    this.o.logger.log(`recording ${id}: recording ${what}`);
    return { ...record };
  }

  #checkFreeSpace(): void {
    if (this.o.minFreeBytes <= 0) return;
    const fs = statfsSync(this.o.dir);
    const free = fs.bavail * fs.bsize;
    if (free < this.o.minFreeBytes) throw new DiskFullError(free, this.o.minFreeBytes);
  }

  /** Ends a running recording once: unhooked, the file closed, the row saved; a `done` one gets its MP4. */
  #end(active: Active, event: RecordingEvent): Promise<RecordingRecord> {
    active.ended ??= (async () => {
      active.untap();
      await active.writer.close();
      const reason = event.kind === 'fail' ? event.reason : event.kind === 'recover' ? 'the gateway shut down while recording' : undefined;
      let record = this.#transition(active.record, event, { durationMs: active.writer.durationMs, endedAt: Date.now(), reason });
      this.#active.delete(active.record.id);
      this.o.logger.log(`recording ${record.id}: ${record.state}${reason ? ` (${reason})` : ''}, ${(record.durationMs / 1000).toFixed(1)} s`);
      if (record.state !== 'interrupted' && record.durationMs > 0) record = await this.#finalise(record);
      return record;
    })();
    return active.ended;
  }

  #transition(record: RecordingRecord, event: RecordingEvent, changes: Pick<RecordingRecord, 'durationMs' | 'endedAt' | 'reason'>): RecordingRecord {
    const state = nextRecordingState(record.state, event);
    if (!state) return record;
    const next: RecordingRecord = { ...record, ...changes, state };
    if (next.reason === undefined) delete next.reason;
    try {
      this.repository.update(next);
    } catch (error) {
      // The recording has ended either way; its row says so at the next successful save or start.
      this.o.logger.error(`recording ${record.id}: could not save that it is ${state}: ${(error as Error).message}`);
    }
    return next;
  }

  /**
   * Makes recording.mp4 from the fragmented file (ffmpeg -c copy, moov first),
   * under a temporary name, bounded in time. The fragmented file stays either way.
   */
  async #finalise(record: RecordingRecord): Promise<RecordingRecord> {
    const dir = recordingDir(this.o.dir, record.id);
    const input = join(dir, RECORDING_FILES.fragmented);
    const partial = join(dir, RECORDING_FILES.mp4Partial);
    if (this.#shuttingDown) return record;
    if (!existsSync(input) || (this.#indexes.get(record.id)?.fragments.length ?? this.#index(record.id, input).fragments.length) === 0) return record;
    const job = runFfmpegJob({
      name: `recording:${record.id}:finalise`,
      ffmpegPath: this.o.ffmpegPath,
      args: finaliseArgs(input, partial),
      timeoutMs: this.o.finaliseTimeoutMs ?? 120000,
      logger: this.o.logger,
    });
    this.#jobs.add(job);
    const exit = await job.done;
    this.#jobs.delete(job);
    const ok = exit.code === 0 && !exit.cutShort;
    if (!ok) {
      const why = exit.cutShort ? 'cut short (timeout or shutdown)' : `code ${exit.code}: ${exit.stderrTail.at(-1) ?? ''}`;
      this.o.logger.warn(`recording ${record.id}: could not make its MP4 (${why}); the fragmented file stays`);
    }
    if (!ok) {
      rmSync(partial, { force: true });
      return record;
    }
    renameSync(partial, join(dir, RECORDING_FILES.mp4));
    const next = { ...record, hasMp4: true };
    try {
      this.repository.update(next);
    } catch (error) {
      this.o.logger.error(`recording ${record.id}: could not save its MP4: ${(error as Error).message}`);
    }
    return next;
  }

  /** The fragmented file's index, read on from where it was last read (the file only grows). */
  #index(id: string, file: string): Fmp4Index {
    const size = statSync(file).size;
    let previous = this.#indexes.get(id);
    if (previous && previous.wholeLength > size) previous = undefined;
    const fd = openSync(file, 'r');
    try {
      const index = indexFmp4(
        (offset, length) => {
          const buffer = Buffer.alloc(length);
          return buffer.subarray(0, readSync(fd, buffer, 0, length, offset));
        },
        size,
        previous,
      );
      this.#indexes.set(id, index);
      return index;
    } finally {
      closeSync(fd);
    }
  }
}
