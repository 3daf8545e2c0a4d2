import { execFile } from 'node:child_process';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { FlvTag, withTimestamp } from '../program/flv';
import { HLS_URIS, mediaPlaylist, multivariantPlaylist, parseHlsUri, peakBandwidth } from './hls-playlist';
import { HlsPart, HlsSegment, HlsSegmenter, HlsSnapshot } from './hls-segmenter';
import { parseAvcC, parseAsc } from './fmp4';
import { programTags } from './testing/program-media';

const run = promisify(execFile);

const part = (index: number, durationMs: number, independent = index === 0): HlsPart => ({ index, durationMs, independent, data: Buffer.alloc(1000) });
const complete = (msn: number, o: Partial<HlsSegment> = {}): HlsSegment => ({
  msn,
  initId: 0,
  discontinuity: false,
  parts: [part(0, 300), part(1, 300), part(2, 300), part(3, 100)],
  durationMs: 1000,
  data: Buffer.alloc(4000),
  ...o,
});

const snapshot = (o: Partial<HlsSnapshot> = {}): HlsSnapshot => ({
  segmentTargetMs: 1000,
  partTargetMs: 300,
  targetDuration: 1,
  mediaSequence: 7,
  discontinuitySequence: 2,
  segments: [complete(7), complete(8, { initId: 1, discontinuity: true }), complete(9, { initId: 1 })],
  open: { msn: 10, initId: 1, discontinuity: false, parts: [part(0, 300)] },
  partSegments: 1,
  ...o,
});

describe('mediaPlaylist', () => {
  it('LL-HLS: server control, part target, parts of the newest segments and of the open one, a new map at the discontinuity, the preload hint', () => {
    expect(mediaPlaylist(snapshot(), { lowLatency: true })).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:9',
        '#EXT-X-TARGETDURATION:1',
        '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.900',
        '#EXT-X-PART-INF:PART-TARGET=0.300',
        '#EXT-X-MEDIA-SEQUENCE:7',
        '#EXT-X-DISCONTINUITY-SEQUENCE:2',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-MAP:URI="init-0.mp4"',
        '#EXTINF:1.000,',
        'seg-7.m4s',
        '#EXT-X-DISCONTINUITY',
        '#EXT-X-MAP:URI="init-1.mp4"',
        '#EXTINF:1.000,',
        'seg-8.m4s',
        '#EXT-X-PART:DURATION=0.300,URI="part-9.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.300,URI="part-9.1.m4s"',
        '#EXT-X-PART:DURATION=0.300,URI="part-9.2.m4s"',
        '#EXT-X-PART:DURATION=0.100,URI="part-9.3.m4s"',
        '#EXTINF:1.000,',
        'seg-9.m4s',
        '#EXT-X-PART:DURATION=0.300,URI="part-10.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-10.1.m4s"',
        '',
      ].join('\n'),
    );
  });

  it('plain: the same complete segments, no parts, no server control, no open segment', () => {
    const text = mediaPlaylist(snapshot({ segments: [complete(7, { programDateTime: Date.UTC(2026, 0, 1, 9) })] }), { lowLatency: false });
    expect(text).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:7',
        '#EXT-X-TARGETDURATION:1',
        '#EXT-X-MEDIA-SEQUENCE:7',
        '#EXT-X-DISCONTINUITY-SEQUENCE:2',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-MAP:URI="init-0.mp4"',
        '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T09:00:00.000Z',
        '#EXTINF:1.000,',
        'seg-7.m4s',
        '',
      ].join('\n'),
    );
  });

  it('hints the first part of the next segment when none is open', () => {
    expect(mediaPlaylist(snapshot({ open: undefined }), { lowLatency: true })).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-10\.0\.m4s"\n$/);
  });
});

describe('multivariantPlaylist', () => {
  it('names the one rendition with CODECS, RESOLUTION and its peak bandwidth', () => {
    const video = { ...parseAvcC(Buffer.from([1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 9, 0x67, 0x42, 0x00, 0x00, 0x03, 0x02, 0x07, 0xbc, 0x80])) };
    const audio = parseAsc(Buffer.from([0x11, 0x90]));
    const s = snapshot({ init: { id: 1, data: Buffer.alloc(0), video, audio } });
    expect(peakBandwidth(s)).toBe(32000);
    expect(multivariantPlaylist(s, 'index.m3u8')).toBe(
      ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS', '#EXT-X-STREAM-INF:BANDWIDTH=32000,CODECS="avc1.42c01e,mp4a.40.2",RESOLUTION=16x16', 'index.m3u8', ''].join('\n'),
    );
    expect(multivariantPlaylist(snapshot(), 'index.m3u8')).toBeUndefined();
  });
});

describe('parseHlsUri', () => {
  it('reads back what HLS_URIS names, and nothing else', () => {
    expect(parseHlsUri(HLS_URIS.init(3))).toEqual({ kind: 'init', id: 3 });
    expect(parseHlsUri(HLS_URIS.segment(12))).toEqual({ kind: 'segment', msn: 12 });
    expect(parseHlsUri(HLS_URIS.part(12, 2))).toEqual({ kind: 'part', msn: 12, index: 2 });
    for (const bad of ['seg-1.mp4', '../seg-1.m4s', 'part-1.m4s', 'init-x.mp4', 'index.m3u8']) expect(parseHlsUri(bad)).toBeUndefined();
  });
});

/** Serves a segmenter's playlists and media like the gateway does (same names), for real readers. */
function serve(segmenter: HlsSegmenter): Promise<Server> {
  const server = createServer((req, res) => {
    const name = (req.url ?? '').split('?')[0].slice(1);
    const s = segmenter.snapshot();
    if (name === 'index.m3u8' || name === 'plain.m3u8') {
      res.setHeader('content-type', 'application/vnd.apple.mpegurl');
      res.end(mediaPlaylist(s, { lowLatency: name === 'index.m3u8' }));
      return;
    }
    const uri = parseHlsUri(name);
    const body = uri?.kind === 'init' ? segmenter.init(uri.id)?.data : uri?.kind === 'segment' ? segmenter.segment(uri.msn)?.data : uri && segmenter.part(uri.msn, uri.index)?.data;
    if (!body) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-type', 'video/mp4');
    res.end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Each decoded picture's size and its mean U and V (showinfo), as ffmpeg reads the playlist from its start. */
async function readPlaylist(url: string, frames: number): Promise<{ size: string; u: number; v: number }[]> {
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-live_start_index', '0', '-i', url, '-frames:v', String(frames), '-vf', 'showinfo', '-f', 'null', '-'], { timeout: 60000 });
  return [...stderr.matchAll(/ s:(\d+x\d+) .*? mean:\[(\d+) (\d+) (\d+)\]/g)].map((m) => ({ size: m[1], u: Number(m[3]), v: Number(m[4]) }));
}

describe('playlists read by ffmpeg over HTTP', () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    // A red 640x360 program, then a blue 320x180 encoder spliced in at 3 s (as the program does: configs, then its keyframe).
    const red = await programTags({ seconds: 3, width: 640, height: 360, fps: 25, color: 'red', toneHz: 440 });
    const blue = await programTags({ seconds: 3, width: 320, height: 180, fps: 25, color: 'blue', toneHz: 880 });
    const segmenter = new HlsSegmenter();
    const shifted = (tags: FlvTag[], by: number) => tags.map((t) => withTimestamp(t, t.timestamp + by));
    for (const tag of [...red, ...shifted(blue, 3000)]) segmenter.push(tag);
    expect(segmenter.snapshot().segments.map((s) => [s.msn, s.initId, s.discontinuity])).toEqual([
      [0, 0, false],
      [1, 0, false],
      [2, 0, false],
      [3, 1, true],
      [4, 1, false],
    ]);
    server = await serve(segmenter);
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it.each(['plain.m3u8', 'index.m3u8'])('%s plays through the discontinuity: red 640x360 pictures, then blue 320x180 ones', async (name) => {
    // 75 red frames (3 segments), then the blue ones (ffmpeg re-initialises its filters at the new size, so ask for fewer than all 50).
    const pictures = await readPlaylist(`${base}/${name}`, 120);
    expect(pictures.length).toBeGreaterThanOrEqual(120);
    const red = pictures.slice(0, 75);
    const blue = pictures.slice(75);
    expect(new Set(red.map((p) => p.size))).toEqual(new Set(['640x360']));
    expect(new Set(blue.map((p) => p.size))).toEqual(new Set(['320x180']));
    // Red: V high, U low; blue: U high, V low.
    expect(red.every((p) => p.v > 200 && p.u < 120)).toBe(true);
    expect(blue.every((p) => p.u > 200 && p.v < 140)).toBe(true);
  });
});
