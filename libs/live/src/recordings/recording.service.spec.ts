import { appendFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database, RecordingRepository } from '@gw/persistence';
import type { ChannelService } from '../channel.service';
import { programTags } from '../hls/testing/program-media';
import { FlvTag } from '../program/flv';
import type { ProgramService } from '../program/program.service';
import { RecordingService } from './recording.service';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

/** A channel's program as the service sees it: taps hear what is pushed. */
class FakePrograms {
  readonly taps = new Map<string, Set<(tag: FlvTag) => void>>();
  tap(channelId: string, listener: (tag: FlvTag) => void): () => void {
    const set = this.taps.get(channelId) ?? new Set();
    this.taps.set(channelId, set);
    set.add(listener);
    return () => set.delete(listener);
  }
  snapshot(): Buffer | null {
    return null;
  }
  push(channelId: string, tags: FlvTag[]): void {
    for (const tag of tags) for (const l of this.taps.get(channelId) ?? []) l(tag);
  }
}

// A real SQLite file, real files, real ffmpeg for the MP4; the program is fed by hand.
describe('RecordingService', () => {
  let dir: string;
  let db: Database;
  let programs: FakePrograms;
  let tags: FlvTag[];
  const channels = { exists: (id: string) => id !== 'nope' } as unknown as ChannelService;
  const service = (minFreeBytes = 0) =>
    new RecordingService(new RecordingRepository(db), channels, programs as unknown as ProgramService, { dir: join(dir, 'recordings'), minFreeBytes, ffmpegPath: 'ffmpeg', logger: quiet });

  beforeAll(async () => {
    tags = await programTags({ seconds: 2, width: 320, height: 180, fps: 25, color: 'red', toneHz: 440 });
  }, 30000);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gw-recsvc-'));
    db = new Database(join(dir, 'gateway.db'));
    programs = new FakePrograms();
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records a channel once at a time, stops as done with an MP4, and stopping again changes nothing', async () => {
    const recordings = service();
    expect(() => recordings.startChannel('nope')).toThrow(expect.objectContaining({ code: 'CHANNEL_NOT_FOUND' }));
    const started = recordings.startChannel('show');
    expect(started).toMatchObject({ channelId: 'show', state: 'recording', hasMp4: false });
    expect(() => recordings.startChannel('show')).toThrow(expect.objectContaining({ code: 'RECORDING_IN_PROGRESS', status: 409 }));
    programs.push('show', tags);
    const done = await recordings.stop(started.id);
    expect(done).toMatchObject({ id: started.id, state: 'done', hasMp4: true, endedAt: expect.any(Number) });
    expect(Math.abs(done.durationMs - 2000)).toBeLessThanOrEqual(100);
    expect(existsSync(recordings.filePath(started.id, 'recording.mp4'))).toBe(true);
    expect(programs.taps.get('show')?.size).toBe(0);
    expect(await recordings.stop(started.id)).toEqual(done);
    expect(recordings.listByChannel('show')).toEqual([done]);
    expect(recordings.playlist(started.id)).toContain('#EXT-X-ENDLIST');
    // The channel may record again.
    expect(recordings.startChannel('show').state).toBe('recording');
    await recordings.closeAll();
  }, 30000);

  it('refuses to start below the free space it needs (503 DISK_FULL)', () => {
    expect(() => service(Number.MAX_SAFE_INTEGER).startChannel('show')).toThrow(expect.objectContaining({ code: 'DISK_FULL', status: 503 }));
  });

  it('after a crash: interrupted at the next start, the torn tail cut off, an MP4 made from what is whole', async () => {
    const first = service();
    const { id } = first.startChannel('show');
    programs.push('show', tags);
    // What a SIGKILL leaves: whole fragments on disk, maybe half of one, and the row still saying "recording".
    const file = join(dir, 'recordings', id, 'fragmented.mp4');
    await new Promise((r) => setTimeout(r, 200));
    const whole = statSync(file).size;
    appendFileSync(file, Buffer.alloc(333, 7));

    const second = service();
    second.recover();
    const interrupted = second.get(id);
    expect(interrupted).toMatchObject({ state: 'interrupted', reason: expect.stringMatching(/stopped while recording/) });
    expect(interrupted.durationMs).toBeGreaterThan(1000);
    expect(statSync(file).size).toBe(whole);
    await waitFor(() => second.get(id).hasMp4);
    await first.closeAll();
  }, 30000);

  it('shutdown closes running recordings whole as interrupted, and is idempotent', async () => {
    const recordings = service();
    const { id } = recordings.startChannel('show');
    programs.push('show', tags);
    await recordings.closeAll();
    await recordings.closeAll();
    expect(recordings.get(id)).toMatchObject({ state: 'interrupted', hasMp4: false });
    expect(() => recordings.startChannel('show')).toThrow(expect.objectContaining({ code: 'SHUTTING_DOWN' }));
  }, 30000);
});

async function waitFor(check: () => boolean, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
