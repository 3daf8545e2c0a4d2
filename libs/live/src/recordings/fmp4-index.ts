/**
 * Reads back the layout of a fragmented MP4 as a recording writes it (init,
 * then moof + mdat fragments, a new init where the codec configs changed):
 * where each init and fragment is, when each fragment starts, how long it
 * lasts and whether it starts with a keyframe. Enough to list the file as an
 * HLS VOD playlist by byte ranges and to tell how much of a torn file (a
 * crash mid-write) is whole. Reads only box headers and the moof boxes
 * (a few hundred bytes per fragment), never the media. Pure: the caller
 * supplies the reads.
 */

/** Reads `length` bytes at `offset` (fewer at the end of the file). */
export type ReadAt = (offset: number, length: number) => Buffer;

export interface IndexedInit {
  offset: number;
  length: number;
}

export interface IndexedFragment {
  offset: number;
  /** moof + mdat. */
  length: number;
  /** Index into `inits` of the init it follows. */
  init: number;
  /** Decode time of its first video sample (its first sample when it has no video), ms. */
  startMs: number;
  /** Sum of its video samples' durations (of its longest track when it has no video), ms. */
  durationMs: number;
  /** Its first video sample is a sync sample (a segment may start here). */
  independent: boolean;
}

export interface Fmp4Index {
  inits: IndexedInit[];
  fragments: IndexedFragment[];
  /** Bytes from the start up to the end of the last whole init or fragment: what a torn file keeps. */
  wholeLength: number;
}

interface Track {
  timescale: number;
  video: boolean;
}

const HEADER = 8;
const NON_SYNC = 0x00010000;

function boxHeader(read: ReadAt, offset: number, fileSize: number): { type: string; size: number; headerSize: number } | undefined {
  if (offset + HEADER > fileSize) return undefined;
  const h = read(offset, 16);
  if (h.length < HEADER) return undefined;
  let size = h.readUInt32BE(0);
  const type = h.toString('latin1', 4, 8);
  let headerSize = HEADER;
  if (size === 1) {
    if (h.length < 16) return undefined;
    size = Number(h.readBigUInt64BE(8));
    headerSize = 16;
  }
  // size 0 (to the end of the file) is never written here: a torn or foreign file.
  if (size < headerSize) return undefined;
  return { type, size, headerSize };
}

/** The children of a box body, as [type, body] pairs. */
function children(body: Buffer): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (let at = 0; at + HEADER <= body.length; ) {
    const size = body.readUInt32BE(at);
    if (size < HEADER || at + size > body.length) break;
    out.push([body.toString('latin1', at + 4, at + 8), body.subarray(at + HEADER, at + size)]);
    at += size;
  }
  return out;
}

const child = (body: Buffer, type: string) => children(body).find(([t]) => t === type)?.[1];

/** Track id → timescale and kind, from a moov body. */
function tracksOf(moov: Buffer): Map<number, Track> {
  const tracks = new Map<number, Track>();
  for (const [type, trak] of children(moov)) {
    if (type !== 'trak') continue;
    const tkhd = child(trak, 'tkhd');
    const mdia = child(trak, 'mdia');
    const mdhd = mdia && child(mdia, 'mdhd');
    const hdlr = mdia && child(mdia, 'hdlr');
    if (!tkhd || !mdhd || !hdlr) continue;
    const id = tkhd[0] === 1 ? tkhd.readUInt32BE(4 + 16) : tkhd.readUInt32BE(4 + 8);
    const timescale = mdhd[0] === 1 ? mdhd.readUInt32BE(4 + 16) : mdhd.readUInt32BE(4 + 8);
    tracks.set(id, { timescale, video: hdlr.toString('latin1', 8, 12) === 'vide' });
  }
  return tracks;
}

interface TrackRun {
  trackId: number;
  baseTime: number;
  duration: number;
  firstSync: boolean;
  samples: number;
}

function runsOf(moof: Buffer): TrackRun[] {
  const runs: TrackRun[] = [];
  for (const [type, traf] of children(moof)) {
    if (type !== 'traf') continue;
    const tfhd = child(traf, 'tfhd');
    if (!tfhd) continue;
    const tfFlags = tfhd.readUIntBE(1, 3);
    const trackId = tfhd.readUInt32BE(4);
    let at = 8;
    if (tfFlags & 0x1) at += 8;
    if (tfFlags & 0x2) at += 4;
    const defaultDuration = tfFlags & 0x8 ? tfhd.readUInt32BE(at) : 0;
    if (tfFlags & 0x8) at += 4;
    if (tfFlags & 0x10) at += 4;
    const defaultFlags = tfFlags & 0x20 ? tfhd.readUInt32BE(at) : 0;
    const tfdt = child(traf, 'tfdt');
    const baseTime = !tfdt ? 0 : tfdt[0] === 1 ? Number(tfdt.readBigUInt64BE(4)) : tfdt.readUInt32BE(4);
    let duration = 0;
    let samples = 0;
    let firstSync: boolean | undefined;
    for (const [t, trun] of children(traf)) {
      if (t !== 'trun') continue;
      const flags = trun.readUIntBE(1, 3);
      const count = trun.readUInt32BE(4);
      let p = 8;
      if (flags & 0x1) p += 4;
      const firstFlags = flags & 0x4 ? trun.readUInt32BE(p) : undefined;
      if (flags & 0x4) p += 4;
      for (let i = 0; i < count; i++) {
        let sampleDuration = defaultDuration;
        let sampleFlags = defaultFlags;
        if (flags & 0x100) {
          sampleDuration = trun.readUInt32BE(p);
          p += 4;
        }
        if (flags & 0x200) p += 4;
        if (flags & 0x400) {
          sampleFlags = trun.readUInt32BE(p);
          p += 4;
        }
        if (flags & 0x800) p += 4;
        if (i === 0 && firstFlags !== undefined) sampleFlags = firstFlags;
        if (firstSync === undefined) firstSync = (sampleFlags & NON_SYNC) === 0;
        duration += sampleDuration;
      }
      samples += count;
    }
    runs.push({ trackId, baseTime, duration, firstSync: firstSync ?? false, samples });
  }
  return runs;
}

/**
 * Indexes the file from its start; with `from` (an earlier index of the same,
 * since grown, file) it reads only what was appended after `from.wholeLength`.
 */
export function indexFmp4(read: ReadAt, fileSize: number, from?: Fmp4Index): Fmp4Index {
  const inits = from ? [...from.inits] : [];
  const fragments = from ? [...from.fragments] : [];
  let tracks = new Map<number, Track>();
  if (from && inits.length) {
    const last = inits[inits.length - 1];
    tracks = tracksFromInit(read, last, fileSize);
  }
  let at = from?.wholeLength ?? 0;
  let whole = at;
  while (at < fileSize) {
    const box = boxHeader(read, at, fileSize);
    if (!box || at + box.size > fileSize) break;
    if (box.type === 'ftyp') {
      const moov = boxHeader(read, at + box.size, fileSize);
      if (!moov || moov.type !== 'moov' || at + box.size + moov.size > fileSize) break;
      const init = { offset: at, length: box.size + moov.size };
      tracks = tracksOf(read(at + box.size + moov.headerSize, moov.size - moov.headerSize));
      inits.push(init);
      at += init.length;
      whole = at;
      continue;
    }
    if (box.type === 'moof') {
      const mdat = boxHeader(read, at + box.size, fileSize);
      if (!mdat || mdat.type !== 'mdat' || at + box.size + mdat.size > fileSize || inits.length === 0) break;
      const runs = runsOf(read(at + box.headerSize, box.size - box.headerSize)).filter((r) => r.samples > 0);
      const video = runs.find((r) => tracks.get(r.trackId)?.video);
      const ms = (r: TrackRun, v: number) => (v * 1000) / (tracks.get(r.trackId)?.timescale || 1000);
      const main = video ?? runs[0];
      fragments.push({
        offset: at,
        length: box.size + mdat.size,
        init: inits.length - 1,
        startMs: main ? ms(main, main.baseTime) : 0,
        durationMs: video ? ms(video, video.duration) : Math.max(0, ...runs.map((r) => ms(r, r.duration))),
        independent: video?.firstSync ?? false,
      });
      at += box.size + mdat.size;
      whole = at;
      continue;
    }
    // Anything else (free, skip, a stray box) is stepped over.
    at += box.size;
    whole = at;
  }
  return { inits, fragments, wholeLength: whole };
}

function tracksFromInit(read: ReadAt, init: IndexedInit, fileSize: number): Map<number, Track> {
  const ftyp = boxHeader(read, init.offset, fileSize);
  const moov = ftyp && boxHeader(read, init.offset + ftyp.size, fileSize);
  if (!ftyp || !moov) return new Map();
  return tracksOf(read(init.offset + ftyp.size + moov.headerSize, moov.size - moov.headerSize));
}

/** Media time the fragments span (ms): from the first one's start to the last one's end. */
export function indexedDurationMs(index: Fmp4Index): number {
  const first = index.fragments[0];
  const last = index.fragments[index.fragments.length - 1];
  if (!first || !last) return 0;
  return Math.max(0, last.startMs + last.durationMs - first.startMs);
}
