import { FLV_AUDIO, FLV_VIDEO, FlvTag, isCodecConfig, isVideoKeyframe } from './flv';
import { ProgramTimeline } from './program-timeline';
import { aac, aacConfig, asTag, avcConfig, interframe, keyframe, markerOf } from './testing/flv-tags';

const HOST = 1;
const MIX = 2;

/** A feed producing a 25 fps GOP of `frames` frames with 1 audio frame per video frame, from `start` ms. */
function* gop(marker: number, start: number, frames: number): Generator<FlvTag> {
  for (let i = 0; i < frames; i += 1) {
    const ts = start + i * 40;
    yield asTag(i === 0 ? keyframe(ts, marker) : interframe(ts, marker));
    yield asTag(aac(ts + 5, marker));
  }
}

function run(t: ProgramTimeline, feed: string, tags: Iterable<FlvTag>): FlvTag[] {
  const out: FlvTag[] = [];
  for (const tag of tags) out.push(...t.push(feed, tag).out);
  return out;
}

const videoTimes = (tags: FlvTag[]) => tags.filter((t) => t.type === FLV_VIDEO && !isCodecConfig(t)).map((t) => t.timestamp);

describe('ProgramTimeline', () => {
  it('puts the first feed on air at its first keyframe, with its configs first', () => {
    const t = new ProgramTimeline();
    t.switchTo('host');
    const out = run(t, 'host', [asTag(avcConfig(1000, HOST)), asTag(aacConfig(1000, HOST)), asTag(interframe(960, HOST)), ...gop(HOST, 1000, 3)]);
    expect(t.onAir).toBe('host');
    expect(out.slice(0, 3).map((x) => [x.type, isCodecConfig(x), x.timestamp])).toEqual([
      [FLV_VIDEO, true, 0],
      [FLV_AUDIO, true, 0],
      [FLV_VIDEO, false, 0],
    ]);
    expect(isVideoKeyframe(out[2])).toBe(true);
    expect(videoTimes(out)).toEqual([0, 40, 80]);
  });

  it('switches at the next keyframe of the new feed, continuing the timeline one frame later', () => {
    const t = new ProgramTimeline();
    t.switchTo('host');
    const out = run(t, 'host', [asTag(avcConfig(0, HOST)), ...gop(HOST, 0, 10)]);
    t.switchTo('mix');
    // The mix's own clock is far away (9.7 s), and its first tags are mid-GOP: not used.
    out.push(...run(t, 'mix', [asTag(avcConfig(9700, MIX)), asTag(aacConfig(9700, MIX)), asTag(interframe(9660, MIX)), asTag(aac(9690, MIX))]));
    expect(t.onAir).toBe('host');
    out.push(...run(t, 'host', gop(HOST, 400, 2)));
    const result = t.push('mix', asTag(keyframe(9700, MIX)));
    expect(result.switched).toBe('mix');
    out.push(...result.out);
    out.push(...run(t, 'mix', [asTag(aac(9695, MIX)), asTag(aac(9705, MIX)), asTag(interframe(9740, MIX))]));
    // Host frames after the switch are not aired.
    out.push(...run(t, 'host', gop(HOST, 480, 2)));
    const video = videoTimes(out);
    expect(video).toEqual([0, 40, 80, 120, 160, 200, 240, 280, 320, 360, 400, 440, 480, 520]);
    const afterSwitch = out.slice(out.findIndex((x) => markerOf(x) === MIX));
    expect(afterSwitch.every((x) => markerOf(x) === MIX)).toBe(true);
    // New configs precede the spliced keyframe, at its time; audio from before the splice is dropped.
    expect(afterSwitch.slice(0, 3).map((x) => [isCodecConfig(x), x.timestamp])).toEqual([
      [true, 480],
      [true, 480],
      [false, 480],
    ]);
    expect(afterSwitch.filter((x) => x.type === FLV_AUDIO && !isCodecConfig(x)).map((x) => x.timestamp)).toEqual([485]);
    expect(t.largestVideoStep).toBe(40);
  });

  it('never writes a timestamp backwards, whatever the feeds do', () => {
    const t = new ProgramTimeline();
    t.switchTo('a');
    const out = run(t, 'a', [asTag(avcConfig(50000, 1)), ...gop(1, 50000, 5)]);
    t.switchTo('b');
    out.push(...run(t, 'b', [asTag(avcConfig(0, 2)), ...gop(2, 0, 5)]));
    t.switchTo('a');
    out.push(...run(t, 'a', gop(1, 50200, 5)));
    const video = videoTimes(out);
    for (let i = 1; i < video.length; i += 1) expect(video[i] - video[i - 1]).toBeGreaterThanOrEqual(0);
    expect(video[video.length - 1]).toBe(14 * 40);
  });

  it('re-splices a feed whose session restarted, and holds it until its next keyframe', () => {
    const t = new ProgramTimeline();
    t.switchTo('host');
    const out = run(t, 'host', [asTag(avcConfig(0, HOST)), ...gop(HOST, 0, 5)]);
    t.restart('host');
    out.push(...run(t, 'host', [asTag(interframe(20, HOST)), asTag(avcConfig(0, HOST)), ...gop(HOST, 0, 2)]));
    expect(videoTimes(out)).toEqual([0, 40, 80, 120, 160, 200, 240]);
  });

  it('treats an unannounced clock jump in the feed on air as a restart', () => {
    const t = new ProgramTimeline();
    t.switchTo('host');
    const out = run(t, 'host', [asTag(avcConfig(0, HOST)), ...gop(HOST, 0, 3), asTag(interframe(90000, HOST))]);
    out.push(...run(t, 'host', [asTag(avcConfig(90040, HOST)), ...gop(HOST, 90040, 2)]));
    expect(videoTimes(out)).toEqual([0, 40, 80, 120, 160]);
  });

  it('passes a config change inside the feed on air, and forgets removed feeds', () => {
    const t = new ProgramTimeline();
    t.switchTo('mix');
    const out = run(t, 'mix', [asTag(avcConfig(0, MIX)), ...gop(MIX, 0, 2), asTag(avcConfig(80, 9)), asTag(keyframe(80, 9))]);
    expect(out.filter(isCodecConfig).map(markerOf)).toEqual([MIX, 9]);
    t.remove('mix');
    expect(t.onAir).toBeUndefined();
    expect(run(t, 'mix', gop(MIX, 120, 2))).toEqual([]);
  });

  it('does not splice a feed without a video config', () => {
    const t = new ProgramTimeline();
    t.switchTo('host');
    expect(run(t, 'host', gop(HOST, 0, 3))).toEqual([]);
    expect(t.onAir).toBeUndefined();
  });
});
