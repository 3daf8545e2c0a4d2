/**
 * A small fragmented-MP4 (CMAF) muxer for the program's H.264 + AAC: an init
 * segment (ftyp + moov with avc1/avcC and mp4a/esds, mvex) and media fragments
 * (moof + mdat) from access units exactly as FLV carries them. Pure.
 *
 * Hand-rolled on purpose: the program already holds every access unit in AVCC
 * form with its decoder configs (the FLV sequence headers), so muxing is box
 * framing and nothing else. The maintained npm muxers are writers of whole
 * files (WebCodecs-oriented, or remuxers that demux first) and do not let the
 * caller decide where each fragment ends, which LL-HLS parts need: a part may
 * end on any frame, a segment only on a keyframe.
 */

export interface VideoConfig {
  /** AVCDecoderConfigurationRecord, as the FLV AVC sequence header carries it (the avcC body). */
  avcC: Buffer;
  width: number;
  height: number;
  /** RFC 6381 codec string, e.g. avc1.42c01f. */
  codec: string;
}

export interface AudioConfig {
  /** AudioSpecificConfig, as the FLV AAC sequence header carries it. */
  asc: Buffer;
  sampleRate: number;
  channels: number;
  /** e.g. mp4a.40.2. */
  codec: string;
}

export interface Sample {
  /** Decode time in the track's timescale. */
  dts: number;
  /** Duration in the track's timescale. */
  duration: number;
  /** Composition offset (pts - dts) in the track's timescale. */
  cts: number;
  keyframe: boolean;
  data: Buffer;
}

export const VIDEO_TRACK = 1;
export const AUDIO_TRACK = 2;
export const VIDEO_TIMESCALE = 90000;

const SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

function u8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(n))));
  return b;
}

export function box(type: string, ...body: Buffer[]): Buffer {
  const size = 8 + body.reduce((n, b) => n + b.length, 0);
  return Buffer.concat([u32(size), Buffer.from(type, 'latin1'), ...body]);
}
function fullBox(type: string, version: number, flags: number, ...body: Buffer[]): Buffer {
  return box(type, u8(version), Buffer.from([(flags >> 16) & 0xff, (flags >> 8) & 0xff, flags & 0xff]), ...body);
}

const MATRIX = Buffer.concat([0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000].map(u32));

/** Reads width, height and the codec string from an AVCDecoderConfigurationRecord (its first SPS). */
export function parseAvcC(avcC: Buffer): VideoConfig {
  if (avcC.length < 7 || avcC[0] !== 1) throw new Error('not an AVCDecoderConfigurationRecord');
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  const codec = `avc1.${hex(avcC[1])}${hex(avcC[2])}${hex(avcC[3])}`;
  const spsCount = avcC[5] & 0x1f;
  if (spsCount === 0) throw new Error('avcC without an SPS');
  const spsLength = avcC.readUInt16BE(6);
  const { width, height } = parseSps(avcC.subarray(8, 8 + spsLength));
  return { avcC: Buffer.from(avcC), width, height, codec };
}

/** Picture size from an H.264 SPS NAL unit (with its header byte). */
export function parseSps(nal: Buffer): { width: number; height: number } {
  // Remove emulation prevention bytes: a 03 after two zero bytes of the payload.
  const rbsp: number[] = [];
  let zeros = 0;
  for (let i = 1; i < nal.length; i++) {
    if (zeros >= 2 && nal[i] === 3) {
      zeros = 0;
      continue;
    }
    zeros = nal[i] === 0 ? zeros + 1 : 0;
    rbsp.push(nal[i]);
  }
  let bit = 0;
  const read = (n: number) => {
    let v = 0;
    for (let i = 0; i < n; i++, bit++) v = v * 2 + ((rbsp[bit >> 3] >> (7 - (bit & 7))) & 1);
    return v;
  };
  const ue = () => {
    let leading = 0;
    while (read(1) === 0 && leading < 32) leading++;
    return 2 ** leading - 1 + read(leading);
  };
  const se = () => {
    const v = ue();
    return v & 1 ? (v + 1) / 2 : -v / 2;
  };
  const profile = read(8);
  read(16); // constraint flags, level
  ue(); // seq_parameter_set_id
  let chromaFormat = 1;
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
    chromaFormat = ue();
    if (chromaFormat === 3) read(1);
    ue(); // bit_depth_luma
    ue(); // bit_depth_chroma
    read(1); // qpprime_y_zero_transform_bypass
    if (read(1)) {
      for (let i = 0; i < (chromaFormat === 3 ? 12 : 8); i++) {
        if (!read(1)) continue;
        let last = 8;
        let next = 8;
        for (let j = 0; j < (i < 6 ? 16 : 64); j++) {
          if (next !== 0) next = (last + se() + 256) % 256;
          last = next === 0 ? last : next;
        }
      }
    }
  }
  ue(); // log2_max_frame_num
  const pocType = ue();
  if (pocType === 0) ue();
  else if (pocType === 1) {
    read(1);
    se();
    se();
    const n = ue();
    for (let i = 0; i < n; i++) se();
  }
  ue(); // max_num_ref_frames
  read(1); // gaps_in_frame_num_allowed
  const widthMbs = ue() + 1;
  const heightMapUnits = ue() + 1;
  const frameMbsOnly = read(1);
  if (!frameMbsOnly) read(1);
  read(1); // direct_8x8_inference
  let crop = [0, 0, 0, 0];
  if (read(1)) crop = [ue(), ue(), ue(), ue()];
  const subW = chromaFormat === 1 || chromaFormat === 2 ? 2 : 1;
  const subH = chromaFormat === 1 ? 2 : 1;
  const cropX = chromaFormat === 0 ? 1 : subW;
  const cropY = (chromaFormat === 0 ? 1 : subH) * (2 - frameMbsOnly);
  return {
    width: widthMbs * 16 - cropX * (crop[0] + crop[1]),
    height: (2 - frameMbsOnly) * heightMapUnits * 16 - cropY * (crop[2] + crop[3]),
  };
}

/** The SPS and PPS NAL units of an AVCDecoderConfigurationRecord, and its NAL length size. */
export function parameterSets(avcC: Buffer): { lengthSize: number; nals: Buffer[] } {
  const lengthSize = (avcC[4] & 3) + 1;
  const nals: Buffer[] = [];
  let at = 5;
  for (const countMask of [0x1f, 0xff]) {
    const count = avcC[at++] & countMask;
    for (let i = 0; i < count && at + 2 <= avcC.length; i++) {
      const len = avcC.readUInt16BE(at);
      nals.push(avcC.subarray(at + 2, at + 2 + len));
      at += 2 + len;
    }
  }
  return { lengthSize, nals };
}

/**
 * A keyframe sample with the config's SPS and PPS in front (unless it carries
 * an SPS already). The init's avcC has them too, but a reader that keeps the
 * first init across a discontinuity (ffmpeg's HLS demuxer does) would decode a
 * spliced encoder's pictures with the old parameter sets; in-band ones are
 * what its decoder follows. A few dozen bytes per keyframe.
 */
export function withParameterSets(sample: Buffer, config: { lengthSize: number; nals: Buffer[] }): Buffer {
  const { lengthSize, nals } = config;
  for (let at = 0; at + lengthSize < sample.length; ) {
    const len = sample.readUIntBE(at, lengthSize);
    if ((sample[at + lengthSize] & 0x1f) === 7) return sample;
    at += lengthSize + len;
  }
  const prefix = nals.flatMap((nal) => {
    const len = Buffer.alloc(lengthSize);
    len.writeUIntBE(nal.length, 0, lengthSize);
    return [len, nal];
  });
  return Buffer.concat([...prefix, sample]);
}

/** Sample rate, channels and codec string from an AudioSpecificConfig. */
export function parseAsc(asc: Buffer): AudioConfig {
  if (asc.length < 2) throw new Error('AudioSpecificConfig too short');
  const objectType = asc[0] >> 3;
  const rateIndex = ((asc[0] & 7) << 1) | (asc[1] >> 7);
  const channels = (asc[1] >> 3) & 0x0f;
  const sampleRate = rateIndex === 15 ? (((asc[1] & 0x7f) << 17) | (asc[2] << 9) | (asc[3] << 1) | (asc[4] >> 7)) >>> 0 : SAMPLE_RATES[rateIndex];
  if (!sampleRate) throw new Error(`unknown AAC sample rate index ${rateIndex}`);
  return { asc: Buffer.from(asc), sampleRate, channels: channels || 2, codec: `mp4a.40.${objectType}` };
}

function trak(id: number, timescale: number, handler: 'vide' | 'soun', width: number, height: number, sampleEntry: Buffer): Buffer {
  const tkhd = fullBox(
    'tkhd',
    0,
    3,
    u32(0),
    u32(0),
    u32(id),
    u32(0),
    u32(0),
    Buffer.alloc(8),
    u16(0),
    u16(0),
    u16(handler === 'soun' ? 0x0100 : 0),
    u16(0),
    MATRIX,
    u32(width << 16),
    u32(height << 16),
  );
  const mdhd = fullBox('mdhd', 0, 0, u32(0), u32(0), u32(timescale), u32(0), u16(0x55c4), u16(0));
  const name = handler === 'vide' ? 'VideoHandler' : 'SoundHandler';
  const hdlr = fullBox('hdlr', 0, 0, u32(0), Buffer.from(handler, 'latin1'), Buffer.alloc(12), Buffer.from(`${name}\0`, 'latin1'));
  const header = handler === 'vide' ? fullBox('vmhd', 0, 1, Buffer.alloc(8)) : fullBox('smhd', 0, 0, Buffer.alloc(4));
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), sampleEntry),
    fullBox('stts', 0, 0, u32(0)),
    fullBox('stsc', 0, 0, u32(0)),
    fullBox('stsz', 0, 0, u32(0), u32(0)),
    fullBox('stco', 0, 0, u32(0)),
  );
  return box('trak', tkhd, box('mdia', mdhd, hdlr, box('minf', header, dinf, stbl)));
}

function avc1(v: VideoConfig): Buffer {
  return box(
    'avc1',
    Buffer.alloc(6),
    u16(1),
    Buffer.alloc(16),
    u16(v.width),
    u16(v.height),
    u32(0x00480000),
    u32(0x00480000),
    u32(0),
    u16(1),
    Buffer.alloc(32),
    u16(0x0018),
    u16(0xffff),
    box('avcC', v.avcC),
  );
}

function descriptor(tag: number, ...body: Buffer[]): Buffer {
  const content = Buffer.concat(body);
  // Four-byte length form: valid for any size.
  const len = content.length;
  return Buffer.concat([u8(tag), Buffer.from([0x80 | ((len >> 21) & 0x7f), 0x80 | ((len >> 14) & 0x7f), 0x80 | ((len >> 7) & 0x7f), len & 0x7f]), content]);
}

function mp4a(a: AudioConfig): Buffer {
  const esds = fullBox(
    'esds',
    0,
    0,
    descriptor(
      3,
      u16(0),
      u8(0),
      descriptor(4, u8(0x40), u8(0x15), Buffer.alloc(3), u32(0), u32(0), descriptor(5, a.asc)),
      descriptor(6, u8(2)),
    ),
  );
  return box('mp4a', Buffer.alloc(6), u16(1), Buffer.alloc(8), u16(a.channels), u16(16), u32(0), u32(a.sampleRate > 0xffff ? 0 : a.sampleRate * 0x10000), esds);
}

/** ftyp + moov for the video track (id 1, 90 kHz) and, if given, the audio track (id 2, at its sample rate). */
export function initSegment(video: VideoConfig, audio?: AudioConfig): Buffer {
  const ftyp = box('ftyp', Buffer.from('iso6', 'latin1'), u32(0), Buffer.from('iso6cmfcisomdashmp41', 'latin1'));
  const mvhd = fullBox(
    'mvhd',
    0,
    0,
    u32(0),
    u32(0),
    u32(1000),
    u32(0),
    u32(0x00010000),
    u16(0x0100),
    Buffer.alloc(10),
    MATRIX,
    Buffer.alloc(24),
    u32(audio ? 3 : 2),
  );
  const traks = [trak(VIDEO_TRACK, VIDEO_TIMESCALE, 'vide', video.width, video.height, avc1(video))];
  const trexes = [fullBox('trex', 0, 0, u32(VIDEO_TRACK), u32(1), u32(0), u32(0), u32(0))];
  if (audio) {
    traks.push(trak(AUDIO_TRACK, audio.sampleRate, 'soun', 0, 0, mp4a(audio)));
    trexes.push(fullBox('trex', 0, 0, u32(AUDIO_TRACK), u32(1), u32(0), u32(0), u32(0)));
  }
  return Buffer.concat([ftyp, box('moov', mvhd, ...traks, box('mvex', ...trexes))]);
}

export interface TrackRun {
  trackId: number;
  samples: Sample[];
}

const SYNC = 0x02000000; // sample_depends_on = 2 (an I frame)
const NON_SYNC = 0x01010000; // depends on others, sample_is_non_sync_sample

/**
 * One fragment: moof (mfhd, one traf per track with samples: tfhd
 * default-base-is-moof, tfdt v1, trun v1 with duration/size/flags/cts) and one
 * mdat holding the tracks' samples in the order given.
 */
export function mediaFragment(sequence: number, runs: TrackRun[]): Buffer {
  const withSamples = runs.filter((r) => r.samples.length > 0);
  const trafFor = (run: TrackRun, dataOffset: number) =>
    box(
      'traf',
      fullBox('tfhd', 0, 0x020000, u32(run.trackId)),
      fullBox('tfdt', 1, 0, u64(run.samples[0].dts)),
      fullBox(
        'trun',
        1,
        0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800,
        u32(run.samples.length),
        u32(dataOffset),
        ...run.samples.flatMap((s) => [u32(Math.max(0, Math.round(s.duration))), u32(s.data.length), u32(s.keyframe ? SYNC : NON_SYNC), u32(Math.round(s.cts) | 0)]),
      ),
    );
  // The trafs' sizes do not depend on the offsets' values: build once to measure, then for real.
  const measure = box('moof', fullBox('mfhd', 0, 0, u32(sequence)), ...withSamples.map((r) => trafFor(r, 0)));
  let offset = measure.length + 8;
  const trafs = withSamples.map((run) => {
    const traf = trafFor(run, offset);
    offset += run.samples.reduce((n, s) => n + s.data.length, 0);
    return traf;
  });
  const moof = box('moof', fullBox('mfhd', 0, 0, u32(sequence)), ...trafs);
  return Buffer.concat([moof, box('mdat', ...withSamples.flatMap((r) => r.samples.map((s) => s.data)))]);
}
