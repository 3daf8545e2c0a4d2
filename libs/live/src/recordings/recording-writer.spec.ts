import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { programTags, probeStreams } from '../hls/testing/program-media';
import { FlvTag, withTimestamp } from '../program/flv';
import { indexedDurationMs, indexFmp4, ReadAt } from './fmp4-index';
import { finaliseArgs } from './recording-files';
import { recordingPlaylist } from './recording-playlist';
import { RecordingWriter } from './recording-writer';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

function readerOf(file: string): { read: ReadAt; size: number; close: () => void } {
  const fd = openSync(file, 'r');
  return {
    read: (offset, length) => {
      const b = Buffer.alloc(length);
      return b.subarray(0, readSync(fd, b, 0, length, offset));
    },
    size: statSync(file).size,
    close: () => closeSync(fd),
  };
}

const index = (file: string) => {
  const r = readerOf(file);
  try {
    return indexFmp4(r.read, r.size);
  } finally {
    r.close();
  }
};

function durationOf(file: string): number {
  return Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { encoding: 'utf8' }).trim());
}

/** Mean RGB of the picture at `seconds` (scaled to 16x16). */
function colorAt(file: string, seconds: number): number[] {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-ss', String(seconds), '-i', file, '-frames:v', '1', '-vf', 'scale=16:16', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
  const sum = [0, 0, 0];
  for (let i = 0; i < raw.length; i += 3) for (let c = 0; c < 3; c++) sum[c] += raw[i + c];
  return sum.map((v) => Math.round(v / (raw.length / 3)));
}

describe('RecordingWriter (real x264/AAC tags, real files, ffmpeg reads them back)', () => {
  let dir: string;
  let red: FlvTag[];
  let blue: FlvTag[];
  beforeAll(async () => {
    red = await programTags({ seconds: 3, width: 640, height: 360, fps: 25, color: 'red', toneHz: 440 });
    // Another encoder spliced in (another size: other codec configs), on the same timeline 3 s later.
    blue = (await programTags({ seconds: 2, width: 320, height: 180, fps: 25, color: 'blue', toneHz: 880 })).map((t) => withTimestamp(t, t.timestamp + 3040));
  }, 60000);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gw-rec-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes whole fragments as they are cut; the file plays, lists as HLS by byte ranges and becomes a normal MP4', async () => {
    const file = join(dir, 'fragmented.mp4');
    const writer = new RecordingWriter({ file, name: 'rec', logger: quiet });
    // The tags start mid-stream (program time 60 s): the recording starts at 0.
    for (const tag of [...red, ...blue]) writer.push(withTimestamp(tag, tag.timestamp + 60000));
    await writer.close();
    await writer.close(); // idempotent

    const idx = index(file);
    expect(idx.wholeLength).toBe(statSync(file).size);
    expect(idx.inits).toHaveLength(2);
    expect(idx.inits[0].offset).toBe(0);
    expect(idx.fragments[0]).toMatchObject({ startMs: 0, independent: true, init: 0 });
    expect(idx.fragments.at(-1)!.init).toBe(1);
    expect(Math.abs(indexedDurationMs(idx) - 5040)).toBeLessThanOrEqual(80);
    expect(Math.abs(writer.durationMs - indexedDurationMs(idx))).toBeLessThanOrEqual(1);
    // Fragments are back to back, inits between them.
    for (const f of idx.fragments) expect(f.durationMs).toBeLessThanOrEqual(600);

    const playlist = recordingPlaylist(idx, { mediaUri: 'fragmented.mp4', ended: true });
    expect(playlist).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(playlist).toContain(`#EXT-X-MAP:URI="fragmented.mp4",BYTERANGE="${idx.inits[0].length}@0"`);
    expect(playlist).toContain('#EXT-X-DISCONTINUITY');
    expect(playlist.trim().endsWith('#EXT-X-ENDLIST')).toBe(true);
    writeFileSync(join(dir, 'index.m3u8'), playlist);

    // The fragmented file plays as it is: red first, then blue.
    expect(probeStreams(file).map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    const [r, g, b] = colorAt(file, 1);
    expect(r).toBeGreaterThan(200);
    expect(Math.max(g, b)).toBeLessThan(50);
    // So does the HLS playlist, with both configs.
    const hlsFrames = probeStreams(join(dir, 'index.m3u8')).find((s) => s.codec_type === 'video')!;
    expect(Number(hlsFrames.nb_read_frames)).toBeGreaterThanOrEqual(120);

    // The finalised MP4: same duration, moov before mdat, both colours.
    const mp4 = join(dir, 'recording.mp4');
    execFileSync('ffmpeg', finaliseArgs(file, mp4), { stdio: 'ignore', timeout: 30000 });
    expect(Math.abs(durationOf(mp4) - 5.04)).toBeLessThan(0.15);
    const head = readFileSync(mp4).subarray(0, 64).toString('latin1');
    expect(head.indexOf('moov')).toBeGreaterThan(0);
    expect(colorAt(mp4, 4.5)[2]).toBeGreaterThan(200);
  }, 60000);

  it('closes up a jump forward in the timestamps (a source away for a while): one timeline without the wait', async () => {
    const file = join(dir, 'fragmented.mp4');
    const writer = new RecordingWriter({ file, name: 'rec', logger: quiet });
    // Red, then 30 s later (off air meanwhile) the same encoder again.
    for (const tag of [...red, ...red.map((t) => withTimestamp(t, t.timestamp + 33000))]) writer.push(tag);
    await writer.close();
    const idx = index(file);
    expect(Math.abs(indexedDurationMs(idx) - 6040)).toBeLessThanOrEqual(80);
    for (let i = 1; i < idx.fragments.length; i++) {
      const previous = idx.fragments[i - 1];
      expect(idx.fragments[i].startMs - (previous.startMs + previous.durationMs)).toBeLessThanOrEqual(41);
    }
  }, 30000);

  it('a torn last fragment (a crash mid-write) is left out; cut back to what is whole, the file plays', async () => {
    const file = join(dir, 'fragmented.mp4');
    const writer = new RecordingWriter({ file, name: 'rec', logger: quiet });
    for (const tag of red) writer.push(tag);
    await writer.close();
    const whole = statSync(file).size;
    const before = index(file);
    appendFileSync(file, readFileSync(file).subarray(before.fragments[1].offset, before.fragments[1].offset + 300));
    const torn = index(file);
    expect(torn.wholeLength).toBe(whole);
    expect(torn.fragments).toHaveLength(before.fragments.length);
    // Indexing on from an earlier index reads only what was added.
    expect(indexFmp4(readerOf(file).read, statSync(file).size, { ...before, fragments: before.fragments.slice(0, 2), wholeLength: before.fragments[2].offset }).fragments).toEqual(before.fragments);
    // ffmpeg refuses a file with a torn box; the start-up recovery cuts it back.
    truncateSync(file, torn.wholeLength);
    expect(Math.abs(durationOf(file) - 3)).toBeLessThan(0.2);
  }, 30000);

  it('fails once, keeps what is whole, and never throws into its source when writing fails', async () => {
    const file = join(dir, 'fragmented.mp4');
    const writer = new RecordingWriter({ file, name: 'rec', logger: quiet, maxQueuedBytes: 40000 });
    const failures: { reason: string }[] = [];
    writer.on('failed', (f) => failures.push(f));
    // Far more than 40 kB at once (the disk "does not keep up").
    expect(() => red.forEach((t) => writer.push(t))).not.toThrow();
    await writer.close();
    expect(failures).toEqual([{ reason: expect.stringMatching(/does not keep up/) }]);
    expect(index(file).wholeLength).toBe(statSync(file).size);
  }, 30000);
});
