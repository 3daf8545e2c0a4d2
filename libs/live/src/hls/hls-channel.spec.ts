import { FlvTag } from '../program/flv';
import { HlsChannel } from './hls-channel';
import { programTags } from './testing/program-media';

let tags: FlvTag[];
beforeAll(async () => {
  tags = await programTags({ seconds: 4, width: 320, height: 180, fps: 25, color: 'green', toneHz: 440 });
});

/** Feeds the tags up to `untilMs` after the first picture, from where the last call stopped. */
function feeder(channel: HlsChannel) {
  const first = tags.find((t) => t.type === 9 && t.raw[12] === 1)!.timestamp;
  let at = 0;
  return (untilMs: number) => {
    while (at < tags.length && tags[at].timestamp <= first + untilMs) channel.push(tags[at++]);
  };
}

describe('HlsChannel', () => {
  it('answers delivery directives: now for what exists, wait for what is next, 400 for too far or a part without a segment', () => {
    const channel = new HlsChannel();
    feeder(channel)(1500); // segment 0 complete, segment 1 open with part 0
    const decide = (msn?: number, part?: number) => channel.reloadDecision(msn, part).kind;
    expect(decide()).toBe('now');
    expect(decide(undefined, 1)).toBe('bad');
    expect([decide(0), decide(0, 3), decide(1, 0)]).toEqual(['now', 'now', 'now']);
    expect([decide(1), decide(1, 1), decide(2, 0), decide(3)]).toEqual(['wait', 'wait', 'wait', 'wait']);
    expect(decide(4)).toBe('bad');
    expect(decide(1, 11)).toBe('bad');
    expect(decide(1, 10)).toBe('wait');
  });

  it('holds a request until its part is cut, and lets it go at the timeout', async () => {
    const channel = new HlsChannel();
    const feed = feeder(channel);
    feed(1500);
    const decision = channel.reloadDecision(1, 1);
    if (decision.kind !== 'wait') throw new Error(decision.kind);
    const held = channel.waitFor(decision.until, 5000);
    let answered = false;
    void held.then(() => (answered = true));
    await Promise.resolve();
    expect(answered).toBe(false);
    feed(1600);
    await expect(held).resolves.toBe(true);
    expect(channel.part(1, 1)).toBeDefined();
    await expect(channel.waitFor(() => false, 20)).resolves.toBe(false);
  });

  it('knows the upcoming parts a player may ask for after the preload hint', () => {
    const channel = new HlsChannel();
    feeder(channel)(1500);
    expect([channel.isUpcomingPart(1, 1), channel.isUpcomingPart(1, 2), channel.isUpcomingPart(2, 0), channel.isUpcomingPart(1, 3), channel.isUpcomingPart(0, 0)]).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
  });

  it('close releases held requests, drops the segments, keeps its resume point, is idempotent', async () => {
    const channel = new HlsChannel();
    const feed = feeder(channel);
    feed(2500);
    expect(channel.ready).toBe(true);
    const held = channel.waitFor(() => false, 60000);
    channel.close();
    channel.close();
    await expect(held).resolves.toBe(false);
    expect(channel.closed).toBe(true);
    expect(channel.segment(0)).toBeUndefined();
    expect(channel.playlist(true)).toBeUndefined();
    expect(channel.resumePoint).toEqual({ mediaSequence: 3, discontinuitySequence: 0, initId: 1, nextBlock: 9 });
    feed(4000);
    expect(channel.snapshot()).toBeUndefined();
    await expect(channel.waitFor(() => true, 10)).resolves.toBe(false);
  });

  it('serves complete segments only by msn, and its playlists once it has them', () => {
    const channel = new HlsChannel();
    feeder(channel)(1500);
    expect(channel.segment(0)?.data?.length).toBeGreaterThan(0);
    expect(channel.segment(1)).toBeUndefined();
    expect(channel.playlist(true)).toContain('#EXT-X-PART:DURATION=0.280,URI="part-1.0.m4s",INDEPENDENT=YES');
    expect(channel.multivariant('index.m3u8')).toMatch(/CODECS="avc1\.42c0[0-9a-f]{2},mp4a\.40\.2",RESOLUTION=320x180/);
    expect(channel.holdMs).toBe(3000);
  });
});
