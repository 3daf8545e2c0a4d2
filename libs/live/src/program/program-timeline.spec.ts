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

  it('continues where an earlier program of the channel ended, so players still connected never see time go back', () => {
    const first = new ProgramTimeline();
    first.switchTo('host');
    run(first, 'host', [asTag(avcConfig(0, HOST)), asTag(aacConfig(0, HOST)), ...gop(HOST, 0, 50)]);
    const ended = first.lastTimestamp;
    expect(ended).toBe(49 * 40 + 5);

    // The channel came back on air: the host's new session starts its clock at 0 again.
    const next = new ProgramTimeline(ended);
    next.switchTo('host');
    const out = run(next, 'host', [asTag(avcConfig(0, HOST)), asTag(aacConfig(0, HOST)), ...gop(HOST, 0, 3)]);
    expect(out.every((tag) => tag.timestamp >= ended)).toBe(true);
    expect(videoTimes(out)).toEqual([ended + 40, ended + 80, ended + 120]);
    expect(new ProgramTimeline().lastTimestamp).toBe(-1);
  });

  it('switches at the next keyframe of the new feed, continuing the timeline one frame later', () => {
    const t = new ProgramTimeline();
    t.switchTo('host');
    const out = run(t, 'host', [asTag(avcConfig(0, HOST)), ...gop(HOST, 0, 10)]);
    t.switchTo('mix');
    // The mix's own clock is far away (9.7 s), and its first tags are mid-GOP: not used.
    out.push(...run(t, 'mix', [asTag(avcConfig(9700, MIX)), asTag(aacConfig(9700, MIX)), asTag(interframe(9660, MIX)), asTag(aac(9690, MIX))]));
    expect(t.onAir).toBe('host');
    out.push(...run(t, 'host', [asTag(interframe(400, HOST)), asTag(aac(405, HOST)), asTag(interframe(440, HOST)), asTag(aac(445, HOST))]));
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

/**
 * A live feed as the program receives it, in arrival order: 25 fps video with a
 * keyframe every `gop` frames (the first at `firstKeyframe`), AAC audio frames
 * (1024 samples at 48 kHz) whose timestamps run `audioLeadMs` ahead of the
 * video arriving with them. `at` is the wall-clock arrival time.
 */
function liveFeed(marker: number, o: { from: number; to: number; ts0: number; gop: number; firstKeyframe: number; audioLeadMs?: number }) {
  const tags: { at: number; tag: FlvTag }[] = [{ at: o.from, tag: asTag(avcConfig(o.ts0, marker)) }, { at: o.from, tag: asTag(aacConfig(o.ts0, marker)) }];
  let audio = o.from + (o.audioLeadMs ?? 0);
  for (let at = o.from, i = 0; at < o.to; at += 40, i += 1) {
    const ts = o.ts0 + (at - o.from);
    const key = i >= o.firstKeyframe && (i - o.firstKeyframe) % o.gop === 0;
    tags.push({ at, tag: asTag(key ? keyframe(ts, marker) : interframe(ts, marker)) });
    for (; audio < at + 40 + (o.audioLeadMs ?? 0); audio += 1024 / 48) tags.push({ at, tag: asTag(aac(Math.round(o.ts0 + audio - o.from), marker)) });
  }
  return tags;
}

/** Plays feeds into a timeline in arrival order; `actions` run at their wall-clock times. */
function play(t: ProgramTimeline, feeds: Record<string, { at: number; tag: FlvTag }[]>, actions: Record<number, () => void>) {
  const events = Object.entries(feeds).flatMap(([feed, tags]) => tags.map((x) => ({ ...x, feed })));
  events.sort((a, b) => a.at - b.at);
  // Which feed a tag written came from (a push may release another feed's held frames).
  const byMarker = new Map(events.filter((e) => !isCodecConfig(e.tag)).map((e) => [markerOf(e.tag), e.feed]));
  const out: { feed: string; tag: FlvTag }[] = [];
  const due = Object.keys(actions).map(Number).sort((a, b) => a - b);
  for (const e of events) {
    while (due.length && due[0] <= e.at) actions[due.shift()!]();
    for (const tag of t.push(e.feed, e.tag).out) out.push({ feed: byMarker.get(markerOf(tag)) ?? e.feed, tag });
  }
  return out;
}

const frames = <T extends { tag: FlvTag }>(out: T[]) => out.filter((x) => x.tag.type === FLV_VIDEO && !isCodecConfig(x.tag));
const audioFrames = <T extends { tag: FlvTag }>(out: T[]) => out.filter((x) => x.tag.type === FLV_AUDIO && !isCodecConfig(x.tag));

describe('ProgramTimeline at a splice that changes the video config (what MSE players survive)', () => {
  // The mix's keyframe arrives at wall time 1980, after the host's 50th frame (1960); the host's last keyframe
  // before it is `back` frames earlier (0: the host's keyframe is the last frame it delivered before the splice).
  it.each([0, 1, 2, 3, 4, 12])('never leaves one of the outgoing feed\'s keyframes among its last two frames (keyframe %i frames back)', (back) => {
    const t = new ProgramTimeline();
    const firstKeyframe = (49 - back) % 25;
    const host = liveFeed(HOST, { from: 0, to: 3000, ts0: 70000, gop: 25, firstKeyframe });
    const mix = liveFeed(MIX, { from: 1500, to: 3000, ts0: 0, gop: 25, firstKeyframe: 12 });
    const out = play(t, { host, mix }, { 0: () => t.switchTo('host'), 1600: () => t.switchTo('mix') });
    const video = frames(out);
    const splice = video.findIndex((x) => x.feed === 'mix');
    expect(isVideoKeyframe(video[splice].tag)).toBe(true);
    // The outgoing feed's last two frames before the new video config are not keyframes.
    const lastTwo = video.slice(splice - 2, splice);
    expect(lastTwo.map((x) => x.feed)).toEqual(['host', 'host']);
    expect(lastTwo.filter((x) => isVideoKeyframe(x.tag))).toEqual([]);
    const configAt = out.findIndex((x) => x.feed === 'mix' && isCodecConfig(x.tag) && x.tag.type === FLV_VIDEO);
    expect(out.slice(configAt).filter((x) => x.feed === 'host')).toEqual([]);
    // One continuous timeline: every video step is one frame, the spliced keyframe included.
    const times = video.map((x) => x.tag.timestamp);
    for (let i = 1; i < times.length; i += 1) expect(times[i] - times[i - 1]).toBe(40);
    expect(t.largestVideoStep).toBe(40);
    // The host went on air at its first keyframe and lost nothing: when its keyframe was among its last two
    // frames, the mix's keyframe waited for the host's next frames (at most two), and then followed at once.
    expect(splice).toBe(50 - firstKeyframe + Math.max(0, 2 - back));
    expect(video.slice(splice).map((x) => x.feed).every((f) => f === 'mix')).toBe(true);
    // Every host frame that arrived before the splice was written, in order (none held back or dropped).
    const hostBefore = host.filter((x) => x.tag.type === FLV_VIDEO && !isCodecConfig(x.tag) && x.at <= 1960 + Math.max(0, 2 - back) * 40 && x.at >= firstKeyframe * 40);
    expect(video.slice(0, splice).map((x) => markerOf(x.tag))).toEqual(hostBefore.map((x) => markerOf(x.tag)));
  });

  it('holds the next keyframe for two frames when the outgoing keyframe was written before the switch was asked for', () => {
    const t = new ProgramTimeline();
    const host = liveFeed(HOST, { from: 0, to: 4000, ts0: 0, gop: 25, firstKeyframe: 0 });
    const mix = liveFeed(MIX, { from: 0, to: 4000, ts0: 500, gop: 25, firstKeyframe: 1 });
    // The host's keyframe at 1000 is out when the switch is asked for (1010); the mix's keyframe comes at 1040.
    const out = play(t, { host, mix }, { 0: () => t.switchTo('host'), 1010: () => t.switchTo('mix') });
    const video = frames(out);
    const splice = video.findIndex((x) => x.feed === 'mix');
    expect(video.slice(splice - 2, splice).map((x) => [x.feed, isVideoKeyframe(x.tag)])).toEqual([
      ['host', false],
      ['host', false],
    ]);
    // The host's frames at 1040 and 1080 go out, then the mix's keyframe (1040) and its frame of 1080, then on.
    expect(splice).toBe(28);
    expect(isVideoKeyframe(video[splice].tag)).toBe(true);
    expect(video.slice(splice).every((x) => x.feed === 'mix')).toBe(true);
    expect(video.slice(1).every((x, i) => x.tag.timestamp - video[i].tag.timestamp === 40)).toBe(true);
  });

  it('does not wait for an outgoing feed that stopped right after a keyframe', () => {
    const t = new ProgramTimeline();
    t.switchTo('host');
    const out = run(t, 'host', [asTag(avcConfig(0, HOST)), ...gop(HOST, 0, 3), asTag(keyframe(120, HOST))]);
    t.switchTo('mix');
    // Held while the host might still send its two frames; after three frames of its own the mix goes on air anyway.
    out.push(...run(t, 'mix', [asTag(avcConfig(0, MIX)), ...gop(MIX, 0, 2)]));
    expect(t.onAir).toBe('host');
    out.push(...run(t, 'mix', gop(MIX, 80, 3)));
    expect(t.onAir).toBe('mix');
    expect(videoTimes(out)).toEqual([0, 40, 80, 120, 160, 200, 240, 280, 320]);
  });

  it('splices the held keyframe at once when the outgoing feed goes away', () => {
    const t = new ProgramTimeline();
    t.switchTo('host');
    const out = run(t, 'host', [asTag(avcConfig(0, HOST)), ...gop(HOST, 0, 3), asTag(keyframe(120, HOST))]);
    t.switchTo('mix');
    out.push(...run(t, 'mix', [asTag(avcConfig(0, MIX)), asTag(keyframe(0, MIX))]));
    expect(t.onAir).toBe('host');
    t.remove('host');
    out.push(...run(t, 'mix', [asTag(interframe(40, MIX))]));
    expect(t.onAir).toBe('mix');
    expect(videoTimes(out)).toEqual([0, 40, 80, 120, 160, 200]);
  });

  it('drops nothing when the next feed has the same video config', () => {
    const t = new ProgramTimeline();
    const cam = (marker: number, o: Parameters<typeof liveFeed>[1]) =>
      liveFeed(marker, o).map((x) => (isCodecConfig(x.tag) && x.tag.type === FLV_VIDEO ? { ...x, tag: asTag(avcConfig(x.tag.timestamp, 7)) } : x));
    const a = cam(HOST, { from: 0, to: 3000, ts0: 0, gop: 25, firstKeyframe: 24 });
    const b = cam(MIX, { from: 1500, to: 3000, ts0: 0, gop: 25, firstKeyframe: 12 });
    const out = play(t, { a, b }, { 0: () => t.switchTo('a'), 1600: () => t.switchTo('b') });
    const video = frames(out);
    // a's keyframe at 1960 is the frame before b's (1980): kept, since b's parameter sets are a's.
    expect(video.filter((x) => x.feed === 'a').length).toBe(26);
    expect(isVideoKeyframe(video[25].tag)).toBe(true);
    expect(video[26].feed).toBe('b');
  });

  it('forgets the held keyframe when the switch is called off, and writes the outgoing feed throughout', () => {
    const t = new ProgramTimeline();
    t.switchTo('host');
    const out = run(t, 'host', [asTag(avcConfig(0, HOST)), ...gop(HOST, 0, 3), asTag(keyframe(120, HOST))]);
    t.switchTo('mix');
    out.push(...run(t, 'mix', [asTag(avcConfig(0, MIX)), asTag(keyframe(0, MIX))]));
    t.switchTo('host');
    out.push(...run(t, 'host', [asTag(interframe(160, HOST)), asTag(interframe(200, HOST))]));
    out.push(...run(t, 'mix', [asTag(interframe(40, MIX)), asTag(interframe(80, MIX))]));
    expect(t.onAir).toBe('host');
    expect(videoTimes(out)).toEqual([0, 40, 80, 120, 160, 200]);
    expect(out.every((tag) => markerOf(tag) !== MIX)).toBe(true);
  });
});

describe('ProgramTimeline when the outgoing feed\'s audio runs ahead of its video', () => {
  it.each([300, 500, 800])('splices audio without stacking or holes (audio %i ms ahead)', (lead) => {
    const t = new ProgramTimeline();
    const mix = liveFeed(MIX, { from: 0, to: 4000, ts0: 0, gop: 25, firstKeyframe: 0, audioLeadMs: lead });
    const host = liveFeed(HOST, { from: 0, to: 4000, ts0: 30000, gop: 25, firstKeyframe: 7 });
    const out = play(t, { mix, host }, { 0: () => t.switchTo('mix'), 1500: () => t.switchTo('host') });
    const video = frames(out);
    const audio = audioFrames(out);
    const splice = video.findIndex((x) => x.feed === 'host');
    const firstHostAudio = audio.findIndex((x) => x.feed === 'host');
    expect(splice).toBeGreaterThan(0);
    expect(firstHostAudio).toBeGreaterThan(0);
    // Per track, timestamps only go forward; audio frames never share a timestamp.
    for (let i = 1; i < video.length; i += 1) expect(video[i].tag.timestamp).toBeGreaterThan(video[i - 1].tag.timestamp);
    for (let i = 1; i < audio.length; i += 1) expect(audio[i].tag.timestamp).toBeGreaterThan(audio[i - 1].tag.timestamp);
    // No hole: the host's audio continues right after the mix's last audio (within one AAC frame or so).
    const gaps = audio.slice(1).map((x, i) => x.tag.timestamp - audio[i].tag.timestamp);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(25);
    // The host's audio keeps its own sync with the host's video (same offset onto the program timeline).
    const spliced = host.find((x) => x.at >= 1500 && isVideoKeyframe(x.tag))!.tag;
    const offset = video[splice].tag.timestamp - spliced.timestamp;
    const hostAudio = new Set(host.filter((x) => x.tag.type === FLV_AUDIO && !isCodecConfig(x.tag)).map((x) => x.tag.timestamp));
    for (const x of audio.slice(firstHostAudio)) expect(hostAudio.has(x.tag.timestamp - offset)).toBe(true);
    // Audio is never far ahead of video once the host is on air: the mix's lead, shrinking to the host's own.
    const written = out.slice(out.indexOf(video[splice]));
    let lastVideo = video[splice].tag.timestamp;
    let lastAudio = audio[firstHostAudio - 1].tag.timestamp;
    for (const x of written) {
      if (x.tag.type === FLV_VIDEO && !isCodecConfig(x.tag)) lastVideo = x.tag.timestamp;
      else if (x.tag.type === FLV_AUDIO && !isCodecConfig(x.tag)) lastAudio = x.tag.timestamp;
      expect(lastAudio - lastVideo).toBeLessThanOrEqual(lead + 40);
    }
    expect(lastAudio - lastVideo).toBeLessThanOrEqual(60);
  });
});
