import { FLV_AUDIO, FLV_VIDEO, FlvTag, isCodecConfig } from '../program/flv';
import { AUDIO_TRACK, initSegment, mediaFragment, parameterSets, parseAsc, parseAvcC, parseSps, VIDEO_TRACK, withParameterSets } from './fmp4';
import { all, find, parseBoxes } from './testing/mp4-boxes';
import { programTags } from './testing/program-media';

const avcCOf = (tags: FlvTag[]) => {
  const tag = tags.find((t) => t.type === FLV_VIDEO && isCodecConfig(t))!;
  return tag.raw.subarray(16, tag.raw.length - 4);
};
const ascOf = (tags: FlvTag[]) => {
  const tag = tags.find((t) => t.type === FLV_AUDIO && isCodecConfig(t))!;
  return tag.raw.subarray(13, tag.raw.length - 4);
};

describe('parseAvcC / parseSps', () => {
  it.each([
    [640, 360, 'baseline' as const, /^avc1\.42c0[0-9a-f]{2}$/],
    [1280, 720, 'main' as const, /^avc1\.4d40[0-9a-f]{2}$/],
    [320, 180, 'high' as const, /^avc1\.6400[0-9a-f]{2}$/],
    [854, 480, 'high' as const, /^avc1\.6400[0-9a-f]{2}$/],
  ])('reads %ix%i (%s) from the avcC x264 writes', async (width, height, profile, codec) => {
    const tags = await programTags({ seconds: 0.2, width, height, fps: 25, color: 'red', toneHz: 440, profile });
    const config = parseAvcC(avcCOf(tags));
    expect({ width: config.width, height: config.height }).toEqual({ width, height });
    expect(config.codec).toMatch(codec);
  });

  it('skips emulation prevention bytes (00 00 03) before reading the SPS', () => {
    // Baseline, level 0, sps_id 63, then a 16x16 picture: the RBSP 42 00 00 02 07 bc 80 needs an
    // emulation prevention byte after the two zero bytes; read as payload, it would shift every field.
    expect(parseSps(Buffer.from([0x67, 0x42, 0x00, 0x00, 0x03, 0x02, 0x07, 0xbc, 0x80]))).toEqual({ width: 16, height: 16 });
  });

  it('refuses what is not an AVCDecoderConfigurationRecord', () => {
    expect(() => parseAvcC(Buffer.from([0, 1, 2, 3, 4, 5, 6]))).toThrow('not an AVCDecoderConfigurationRecord');
    expect(() => parseAvcC(Buffer.from([1, 0x42, 0, 0x1e, 0xff, 0xe0, 0]))).toThrow('without an SPS');
  });
});

describe('parseAsc', () => {
  it('reads AAC-LC 48 kHz stereo and 44.1 kHz mono', () => {
    expect(parseAsc(Buffer.from([0x11, 0x90]))).toMatchObject({ sampleRate: 48000, channels: 2, codec: 'mp4a.40.2' });
    expect(parseAsc(Buffer.from([0x12, 0x08]))).toMatchObject({ sampleRate: 44100, channels: 1, codec: 'mp4a.40.2' });
  });

  it('refuses an unknown sample rate index', () => {
    expect(() => parseAsc(Buffer.from([0x16, 0x90]))).toThrow('unknown AAC sample rate index 13');
  });
});

describe('initSegment', () => {
  it('is ftyp + moov with avc1/avcC and mp4a/esds tracks and a trex for each', async () => {
    const tags = await programTags({ seconds: 0.2, width: 640, height: 360, fps: 25, color: 'red', toneHz: 440 });
    const avcC = avcCOf(tags);
    const asc = ascOf(tags);
    const boxes = parseBoxes(initSegment(parseAvcC(avcC), parseAsc(asc)));
    expect(boxes.map((b) => b.type)).toEqual(['ftyp', 'moov']);
    expect(find(boxes, 'ftyp').body.toString('latin1', 0, 4)).toBe('iso6');
    const moov = find(boxes, 'moov');
    expect(moov.children.map((b) => b.type)).toEqual(['mvhd', 'trak', 'trak', 'mvex']);
    const [video, audio] = all(moov.children, 'trak');
    // tkhd v0: track id at 12, width/height (16.16) at the end.
    const tkhd = find(video.children, 'tkhd').body;
    expect(tkhd.readUInt32BE(12)).toBe(VIDEO_TRACK);
    expect([tkhd.readUInt32BE(tkhd.length - 8) >>> 16, tkhd.readUInt32BE(tkhd.length - 4) >>> 16]).toEqual([640, 360]);
    expect(find(audio.children, 'tkhd').body.readUInt32BE(12)).toBe(AUDIO_TRACK);
    // mdhd timescales: 90 kHz video, the sample rate for audio.
    expect(find(video.children, 'mdia', 'mdhd').body.readUInt32BE(12)).toBe(90000);
    expect(find(audio.children, 'mdia', 'mdhd').body.readUInt32BE(12)).toBe(48000);
    expect(find(video.children, 'mdia', 'hdlr').body.toString('latin1', 8, 12)).toBe('vide');
    expect(find(audio.children, 'mdia', 'hdlr').body.toString('latin1', 8, 12)).toBe('soun');
    const avc1 = find(video.children, 'mdia', 'minf', 'stbl', 'stsd', 'avc1');
    expect([avc1.body.readUInt16BE(24), avc1.body.readUInt16BE(26)]).toEqual([640, 360]);
    expect(find(avc1.children, 'avcC').body.equals(avcC)).toBe(true);
    const mp4a = find(audio.children, 'mdia', 'minf', 'stbl', 'stsd', 'mp4a');
    expect(mp4a.body.readUInt16BE(16)).toBe(2);
    expect(mp4a.body.readUInt32BE(24) >>> 16).toBe(48000);
    const esds = find(mp4a.children, 'esds').body;
    expect(esds.includes(Buffer.concat([Buffer.from([0x05, 0x80, 0x80, 0x80, asc.length]), asc]))).toBe(true);
    const trex = all(find(moov.children, 'mvex').children, 'trex');
    expect(trex.map((t) => t.body.readUInt32BE(4))).toEqual([VIDEO_TRACK, AUDIO_TRACK]);
  });

  it('without audio has one track', async () => {
    const tags = await programTags({ seconds: 0.2, width: 320, height: 180, fps: 25, color: 'blue', toneHz: 440 });
    const moov = find(parseBoxes(initSegment(parseAvcC(avcCOf(tags)))), 'moov');
    expect(all(moov.children, 'trak')).toHaveLength(1);
    expect(find(moov.children, 'mvhd').body.readUInt32BE(96)).toBe(2);
  });
});

describe('mediaFragment', () => {
  const video = [
    { dts: 90000, duration: 3600, cts: 7200, keyframe: true, data: Buffer.from('key-frame') },
    { dts: 93600, duration: 3600, cts: -3600, keyframe: false, data: Buffer.from('delta') },
  ];
  const audio = [{ dts: 48000, duration: 1024, cts: 0, keyframe: true, data: Buffer.from('aac') }];

  it('is moof (mfhd, a traf per track: tfhd, tfdt, trun) + mdat whose data offsets point at each track\'s samples', () => {
    const fragment = mediaFragment(7, [
      { trackId: VIDEO_TRACK, samples: video },
      { trackId: AUDIO_TRACK, samples: audio },
    ]);
    const boxes = parseBoxes(fragment);
    expect(boxes.map((b) => b.type)).toEqual(['moof', 'mdat']);
    const moof = boxes[0];
    expect(find(moof.children, 'mfhd').body.readUInt32BE(4)).toBe(7);
    const trafs = all(moof.children, 'traf');
    expect(trafs).toHaveLength(2);
    const read = (traf: (typeof trafs)[number], samples: typeof video) => {
      const tfhd = find(traf.children, 'tfhd').body;
      expect(tfhd.readUInt32BE(0) & 0xffffff).toBe(0x020000); // default-base-is-moof
      const tfdt = find(traf.children, 'tfdt').body;
      expect(tfdt[0]).toBe(1);
      const trun = find(traf.children, 'trun').body;
      expect(trun.readUInt32BE(4)).toBe(samples.length);
      const dataOffset = trun.readUInt32BE(8);
      const rows = samples.map((_, i) => ({
        duration: trun.readUInt32BE(12 + i * 16),
        size: trun.readUInt32BE(16 + i * 16),
        flags: trun.readUInt32BE(20 + i * 16),
        cts: trun.readInt32BE(24 + i * 16),
      }));
      const bytes = fragment.subarray(moof.start + dataOffset, moof.start + dataOffset + rows.reduce((n, r) => n + r.size, 0));
      return { trackId: tfhd.readUInt32BE(4), baseDts: Number(tfdt.readBigUInt64BE(4)), rows, bytes: bytes.toString() };
    };
    const v = read(trafs[0], video);
    expect(v).toEqual({
      trackId: VIDEO_TRACK,
      baseDts: 90000,
      rows: [
        { duration: 3600, size: 9, flags: 0x02000000, cts: 7200 },
        { duration: 3600, size: 5, flags: 0x01010000, cts: -3600 },
      ],
      bytes: 'key-framedelta',
    });
    const a = read(trafs[1], audio);
    expect(a).toEqual({ trackId: AUDIO_TRACK, baseDts: 48000, rows: [{ duration: 1024, size: 3, flags: 0x02000000, cts: 0 }], bytes: 'aac' });
    expect(boxes[1].body.toString()).toBe('key-framedeltaaac');
  });

  it('leaves out a track without samples', () => {
    const moof = parseBoxes(mediaFragment(1, [{ trackId: VIDEO_TRACK, samples: video }, { trackId: AUDIO_TRACK, samples: [] }]))[0];
    expect(all(moof.children, 'traf')).toHaveLength(1);
  });
});

describe('withParameterSets', () => {
  // avcC: version 1, profile/compat/level, 4-byte lengths, one SPS (67 aa), one PPS (68 bb).
  const config = parameterSets(Buffer.from([1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 2, 0x67, 0xaa, 1, 0, 2, 0x68, 0xbb]));

  it('reads the SPS and PPS and the NAL length size of an avcC', () => {
    expect(config).toEqual({ lengthSize: 4, nals: [Buffer.from([0x67, 0xaa]), Buffer.from([0x68, 0xbb])] });
  });

  it('puts them in front of a keyframe without an SPS, length-prefixed', () => {
    const idr = Buffer.from([0, 0, 0, 2, 0x65, 0x11]);
    expect([...withParameterSets(idr, config)]).toEqual([0, 0, 0, 2, 0x67, 0xaa, 0, 0, 0, 2, 0x68, 0xbb, 0, 0, 0, 2, 0x65, 0x11]);
  });

  it('leaves a keyframe that carries an SPS as it is', () => {
    const withSps = Buffer.from([0, 0, 0, 1, 0x09, 0, 0, 0, 2, 0x67, 0xcc, 0, 0, 0, 2, 0x65, 0x11]);
    expect(withParameterSets(withSps, config)).toBe(withSps);
  });
});
