import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLV_AUDIO, FLV_VIDEO, FlvTag, isCodecConfig } from '../program/flv';
import { asTag, rawTag } from '../program/testing/flv-tags';
import { HlsSegmenter } from './hls-segmenter';
import { all, find, parseBoxes } from './testing/mp4-boxes';
import { firstPictureRgb, probeStreams, programTags } from './testing/program-media';

/** The configs of real x264/AAC streams, so the segmenter can build real inits; frames are synthetic. */
let avcC360: Buffer;
let avcC180: Buffer;
let asc: Buffer;

const payloadOf = (tags: FlvTag[], type: number, skip: number) => {
  const tag = tags.find((t) => t.type === type && isCodecConfig(t))!;
  return tag.raw.subarray(11 + skip, tag.raw.length - 4);
};

beforeAll(async () => {
  const a = await programTags({ seconds: 0.1, width: 640, height: 360, fps: 25, color: 'red', toneHz: 440 });
  const b = await programTags({ seconds: 0.1, width: 320, height: 180, fps: 25, color: 'blue', toneHz: 880 });
  avcC360 = Buffer.from(payloadOf(a, FLV_VIDEO, 5));
  avcC180 = Buffer.from(payloadOf(b, FLV_VIDEO, 5));
  asc = Buffer.from(payloadOf(a, FLV_AUDIO, 2));
});

const videoConfig = (ts: number, avcC: Buffer) => asTag(rawTag(FLV_VIDEO, ts, [0x17, 0, 0, 0, 0, ...avcC]));
const audioConfig = (ts: number) => asTag(rawTag(FLV_AUDIO, ts, [0xaf, 0, ...asc]));
const frame = (ts: number, key: boolean, n: number) => asTag(rawTag(FLV_VIDEO, ts, [key ? 0x17 : 0x27, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, n & 0xff]));
const aacFrame = (ts: number) => asTag(rawTag(FLV_AUDIO, ts, [0xaf, 1, 0x21, 0x00]));

/** `seconds` of 25 fps video (a keyframe every `gop` frames) with 48 kHz AAC interleaved, from program time `fromMs`. */
function stream(seconds: number, o: { fromMs?: number; gop?: number; configs?: boolean; avcC?: Buffer; fps?: number } = {}): FlvTag[] {
  const from = o.fromMs ?? 0;
  const fps = o.fps ?? 25;
  const gop = o.gop ?? fps;
  const tags: FlvTag[] = o.configs === false ? [] : [videoConfig(from, o.avcC ?? avcC360), audioConfig(from)];
  let audioAt = from;
  for (let i = 0; i < seconds * fps; i++) {
    // FLV timestamps are whole milliseconds: at 30 fps frames are 33 or 34 ms apart.
    const ts = from + Math.round((i * 1000) / fps);
    tags.push(frame(ts, i % gop === 0, i));
    while (audioAt < ts + 1000 / fps) {
      tags.push(aacFrame(Math.round(audioAt)));
      audioAt += 1024 / 48;
    }
  }
  return tags;
}

const feed = (segmenter: HlsSegmenter, tags: FlvTag[]) => tags.forEach((t) => segmenter.push(t));

describe('HlsSegmenter', () => {
  it('cuts segments at the first keyframe after the target and ~300 ms parts on any frame, independent where a keyframe is', () => {
    const segmenter = new HlsSegmenter({ segmentTargetMs: 1000, partTargetMs: 300 });
    feed(segmenter, stream(3.2));
    const s = segmenter.snapshot();
    expect(s.segments.map((seg) => [seg.msn, seg.durationMs])).toEqual([
      [0, 1000],
      [1, 1000],
      [2, 1000],
    ]);
    for (const seg of s.segments) {
      expect(seg.parts.map((p) => p.durationMs)).toEqual([280, 280, 280, 160]);
      expect(seg.parts.map((p) => p.independent)).toEqual([true, false, false, false]);
      // The segment is its parts back to back.
      expect(Buffer.concat(seg.parts.map((p) => p.data)).equals(seg.data!)).toBe(true);
    }
    // Frames 75..78 are written into the open segment's first part once it is full; 79 waits for its successor.
    expect(s.open).toMatchObject({ msn: 3, parts: [] });
    expect(s.targetDuration).toBe(1);
    expect(segmenter.nextPart).toEqual({ msn: 3, index: 0 });
  });

  it('flush() writes the held frame and completes the open segment (a recording that stops keeps its last frames)', () => {
    const segmenter = new HlsSegmenter({ segmentTargetMs: 1000, partTargetMs: 300 });
    feed(segmenter, stream(1.5)); // 38 frames: the last one is held until flush
    segmenter.flush();
    const s = segmenter.snapshot();
    expect(s.open).toBeUndefined();
    expect(s.segments.map((seg) => seg.durationMs)).toEqual([1000, 520]);
    segmenter.flush();
    expect(segmenter.snapshot().segments).toHaveLength(2);
  });

  it.each([15, 30, 50, 60])('at %i fps keeps every part within the part target and all but a segment\'s last at 85%% of it at least', (fps) => {
    const segmenter = new HlsSegmenter({ partTargetMs: 300 });
    feed(segmenter, stream(4.1, { fps }));
    const { segments } = segmenter.snapshot();
    expect(segments).toHaveLength(4);
    for (const seg of segments) {
      expect(seg.parts.every((p) => p.durationMs <= 300)).toBe(true);
      expect(seg.parts.slice(0, -1).every((p) => p.durationMs >= 255)).toBe(true);
      expect(seg.durationMs).toBeCloseTo(1000, -1);
    }
  });

  it('writes each video frame with the gap to the next as its duration, and AAC frames of 1024 samples back to back', () => {
    const segmenter = new HlsSegmenter();
    feed(segmenter, stream(2.2));
    const seg = segmenter.snapshot().segments[1];
    let videoNext: number | undefined;
    let audioNext: number | undefined;
    for (const part of seg.parts) {
      const boxes = parseBoxes(part.data);
      const trafs = all(find(boxes, 'moof').children, 'traf');
      for (const traf of trafs) {
        const track = find(traf.children, 'tfhd').body.readUInt32BE(4);
        const base = Number(find(traf.children, 'tfdt').body.readBigUInt64BE(4));
        const trun = find(traf.children, 'trun').body;
        const durations = Array.from({ length: trun.readUInt32BE(4) }, (_, i) => trun.readUInt32BE(12 + i * 16));
        if (track === 1) {
          expect(base).toBe(videoNext ?? 90000);
          expect(new Set(durations)).toEqual(new Set([3600]));
          videoNext = base + durations.reduce((a, b) => a + b, 0);
        } else {
          if (audioNext !== undefined) expect(base).toBe(audioNext);
          expect(new Set(durations)).toEqual(new Set([1024]));
          audioNext = base + durations.reduce((a, b) => a + b, 0);
        }
      }
    }
    expect(videoNext).toBe(180000);
    expect(audioNext).toBeGreaterThan(48000 * 1.9);
  });

  it('ignores a repeated identical config (a splice with the same encoder): no new init, no discontinuity', () => {
    const segmenter = new HlsSegmenter();
    feed(segmenter, stream(1.5));
    feed(segmenter, stream(1.5, { fromMs: 1500 }));
    const s = segmenter.snapshot();
    expect(s.segments.map((seg) => [seg.initId, seg.discontinuity])).toEqual([
      [0, false],
      [0, false],
    ]);
    expect(segmenter.init(1)).toBeUndefined();
  });

  it('starts a new init and a discontinuity at the keyframe after a different config, even mid-segment', () => {
    const segmenter = new HlsSegmenter();
    feed(segmenter, stream(1.5));
    feed(segmenter, stream(2.1, { fromMs: 1500, avcC: avcC180 }));
    const s = segmenter.snapshot();
    expect(s.segments.map((seg) => [seg.msn, seg.initId, seg.discontinuity, seg.durationMs])).toEqual([
      [0, 0, false, 1000],
      [1, 0, false, 500],
      [2, 1, true, 1000],
      [3, 1, false, 1000],
    ]);
    expect(segmenter.init(1)!.video).toMatchObject({ width: 320, height: 180 });
    expect(segmenter.init(0)!.video).toMatchObject({ width: 640, height: 360 });
    expect(s.init!.id).toBe(1);
  });

  it('keeps a bounded window with media and discontinuity sequences that only grow, and drops inits no segment uses', () => {
    const segmenter = new HlsSegmenter({ windowSegments: 4 });
    feed(segmenter, stream(2));
    feed(segmenter, stream(2.04, { fromMs: 2000, avcC: avcC180 }));
    expect(segmenter.snapshot()).toMatchObject({ mediaSequence: 0, discontinuitySequence: 0 });
    feed(segmenter, stream(10, { fromMs: 4040, avcC: avcC180, configs: false }));
    const s = segmenter.snapshot();
    expect(s.segments).toHaveLength(4);
    expect(s.segments.map((seg) => seg.msn)).toEqual([9, 10, 11, 12]);
    expect(s.mediaSequence).toBe(9);
    // The discontinuity at msn 2 slid out of the window.
    expect(s.discontinuitySequence).toBe(1);
    expect(segmenter.init(0)).toBeUndefined();
    expect(segmenter.segment(8)).toBeUndefined();
    expect(segmenter.segment(9)!.data!.length).toBeGreaterThan(0);
  });

  it('tells whether a segment or part exists (older counts) and notifies on each new part', () => {
    const segmenter = new HlsSegmenter();
    let updates = 0;
    segmenter.onUpdate(() => updates++);
    feed(segmenter, stream(1.5));
    // Segment 0 complete (4 parts), segment 1 open with part 0 (frames 25..31).
    expect(updates).toBe(4 + 1 + 1);
    expect([segmenter.has(0), segmenter.has(1), segmenter.has(1, 0), segmenter.has(1, 1), segmenter.has(0, 9), segmenter.has(2, 0)]).toEqual([true, false, true, false, true, false]);
    expect(segmenter.part(1, 0)!.independent).toBe(true);
    expect(segmenter.part(0, 3)!.durationMs).toBe(160);
    expect(segmenter.nextPart).toEqual({ msn: 1, index: 1 });
  });

  it('waits for a config and a keyframe: earlier frames and audio are dropped', () => {
    const segmenter = new HlsSegmenter();
    feed(segmenter, [frame(0, true, 0), frame(40, false, 1), aacFrame(40)]);
    expect(segmenter.snapshot()).toMatchObject({ segments: [], open: undefined, init: undefined });
    feed(segmenter, [videoConfig(80, avcC360), audioConfig(80), frame(80, false, 2), frame(120, true, 3)]);
    expect(segmenter.snapshot().open).toMatchObject({ msn: 0, initId: 0 });
  });

  it('raises the target duration to the longest segment when the GOP is longer than the target', () => {
    const segmenter = new HlsSegmenter({ segmentTargetMs: 1000 });
    feed(segmenter, stream(6.1, { gop: 60 }));
    const s = segmenter.snapshot();
    expect(s.segments.map((seg) => seg.durationMs)).toEqual([2400, 2400]);
    expect(s.targetDuration).toBe(2);
  });

  it('continues an earlier segmenter of the channel: numbers go on and its first segment is a discontinuity', () => {
    const first = new HlsSegmenter();
    feed(first, stream(2.5));
    const resume = first.resumePoint;
    expect(resume).toEqual({ mediaSequence: 3, discontinuitySequence: 0, initId: 1, nextBlock: 9 });
    // Every part is a block (seed 002): numbered on from 0 across segments, with the SHA-256 of its bytes.
    const parts = [...first.snapshot().segments, first.snapshot().open!].flatMap((s) => s.parts);
    expect(parts.map((p) => p.block)).toEqual(parts.map((_, i) => i));
    for (const p of parts) expect(p.sha256).toBe(createHash('sha256').update(p.data).digest('hex'));
    const next = new HlsSegmenter({ startAt: resume });
    feed(next, stream(1.1, { fromMs: 2500 }));
    expect(next.snapshot().segments[0].parts[0].block).toBe(9);
    expect(next.snapshot()).toMatchObject({ mediaSequence: 3, discontinuitySequence: 0, segments: [{ msn: 3, initId: 1, discontinuity: true }] });
  });

  it('dates segments from its clock when given one', () => {
    const segmenter = new HlsSegmenter({ now: () => Date.UTC(2026, 0, 1) });
    feed(segmenter, stream(2.1));
    expect(segmenter.snapshot().segments.map((s) => s.programDateTime)).toEqual([Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1) + 1000]);
  });
});

describe('HlsSegmenter with real media', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hls-seg-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['baseline', 0],
    ['main with B-frames', 2],
  ])('writes init + fragments that ffprobe decodes frame by frame (%s)', async (_name, bframes) => {
    const tags = await programTags({ seconds: 3, width: 640, height: 360, fps: 25, color: 'red', toneHz: 440, profile: bframes ? 'main' : 'baseline', bframes });
    const segmenter = new HlsSegmenter();
    feed(segmenter, tags);
    const s = segmenter.snapshot();
    expect(s.segments.length).toBe(2);
    const file = join(dir, `program-${bframes}.mp4`);
    writeFileSync(file, Buffer.concat([s.init!.data, ...s.segments.map((seg) => seg.data!), ...s.open!.parts.map((p) => p.data)]));
    const streams = probeStreams(file);
    const video = streams.find((x) => x.codec_type === 'video')!;
    const audio = streams.find((x) => x.codec_type === 'audio')!;
    expect(video).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
    // Every frame of the complete segments (0..49) and of the open one's complete parts (50..70) is there and decodes.
    expect(s.open!.parts).toHaveLength(3);
    expect(Number(video.nb_read_frames)).toBe(71);
    expect(audio).toMatchObject({ codec_name: 'aac', sample_rate: '48000', channels: 2 });
    expect(Number(audio.nb_read_frames)).toBeGreaterThan(125);
    const [r, g, b] = firstPictureRgb(file);
    expect(r).toBeGreaterThan(200);
    expect(g + b).toBeLessThan(60);
  });
});
