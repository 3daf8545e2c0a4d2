import { FLV_AUDIO, FLV_SCRIPT, FLV_VIDEO, FlvTag, FlvTagReader, GopCache, isCodecConfig, isVideoKeyframe, TimelineStitcher } from './flv';

import { aac, aacConfig, avcConfig, FLV_HEADER as HEADER, interframe, keyframe, rawTag as tag } from './testing/flv-tags';

describe('FLV tags', () => {
  it('splits a stream across arbitrary chunk boundaries', () => {
    const stream = Buffer.concat([HEADER, tag(FLV_SCRIPT, 0, [2, 0, 1, 0x61]), avcConfig(0), keyframe(0), aac(23), interframe(40), tag(FLV_VIDEO, 0x01000010, [0x27, 1])]);
    const reader = new FlvTagReader();
    const tags: FlvTag[] = [];
    for (let i = 0; i < stream.length; i += 7) tags.push(...reader.push(stream.subarray(i, i + 7)));
    expect(reader.header).toEqual(HEADER);
    expect(tags.map((t) => [t.type, t.timestamp])).toEqual([
      [FLV_SCRIPT, 0],
      [FLV_VIDEO, 0],
      [FLV_VIDEO, 0],
      [FLV_AUDIO, 23],
      [FLV_VIDEO, 40],
      [FLV_VIDEO, 0x01000010],
    ]);
    expect(isCodecConfig(tags[1])).toBe(true);
    expect(isVideoKeyframe(tags[2])).toBe(true);
    expect(isVideoKeyframe(tags[4])).toBe(false);
    expect(() => new FlvTagReader().push(Buffer.from('GARBAGE-NOT-FLV'))).toThrow('not an FLV stream');
    // The AVC end-of-sequence tag an encoder writes when it stops has the key flag but no picture.
    const [eos] = new FlvTagReader().push(Buffer.concat([HEADER, tag(FLV_VIDEO, 900, [0x17, 2, 0, 0, 0])]));
    expect(isVideoKeyframe(eos)).toBe(false);
  });

  it('stitches a restarted encoder onto the same timeline', () => {
    const reader = new FlvTagReader();
    const [k0, i1] = reader.push(Buffer.concat([HEADER, keyframe(0), interframe(1000)]));
    const stitcher = new TimelineStitcher(40);
    expect([stitcher.place(k0).timestamp, stitcher.place(i1).timestamp]).toEqual([0, 1000]);
    stitcher.newSession();
    const [k2, i3] = new FlvTagReader().push(Buffer.concat([HEADER, keyframe(0), interframe(80)]));
    expect([stitcher.place(k2).timestamp, stitcher.place(i3).timestamp]).toEqual([1040, 1120]);
    // The rewritten bytes carry the new timestamp.
    expect(new FlvTagReader().push(Buffer.concat([HEADER, stitcher.place(i3).raw]))[0].timestamp).toBe(1120);
  });

  it('gives a late output the header, configs and the current GOP', () => {
    const cache = new GopCache();
    const reader = new FlvTagReader();
    const tags = reader.push(Buffer.concat([HEADER, avcConfig(0), aacConfig(0), keyframe(0), interframe(40), keyframe(1000), aac(1010), interframe(1040)]));
    expect(cache.snapshot()).toBeNull();
    cache.setHeader(reader.header!);
    for (const t of tags) cache.add(t);
    const replay = new FlvTagReader().push(cache.snapshot()!);
    expect(replay.map((t) => [t.type, t.timestamp, isVideoKeyframe(t), isCodecConfig(t)])).toEqual([
      [FLV_VIDEO, 1000, false, true],
      [FLV_AUDIO, 1000, false, true],
      [FLV_VIDEO, 1000, true, false],
      [FLV_AUDIO, 1010, false, false],
      [FLV_VIDEO, 1040, false, false],
    ]);
  });
});
