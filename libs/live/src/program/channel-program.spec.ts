import { FLV_VIDEO, FlvTag, isCodecConfig } from './flv';
import { ChannelProgram } from './channel-program';
import { aac, aacConfig, asTag, avcConfig, interframe, keyframe, markerOf } from './testing/flv-tags';

const HOST = 1;
const MIX = 2;
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

/**
 * The program's lead before a trailing feed (a mix) is spliced in, on the
 * wall clock (Jest's fake timers move Date.now and the program's timers
 * together). The RTMP output it starts is `true`, which exits at once: only
 * the tags the program writes (its `tag` event) are looked at here.
 */
describe('ChannelProgram: the lead before a trailing feed', () => {
  let program: ChannelProgram;
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(async () => {
    jest.useRealTimers();
    await program?.stop();
  });

  function start(switchLeadMs: number) {
    program = new ChannelProgram({ channelId: 'c', publishUrl: 'rtmp://127.0.0.1:1/live/c', ffmpegPath: 'true', logger: quiet, switchLeadMs });
    const written: { at: number; tag: FlvTag }[] = [];
    program.on('tag', (tag) => written.push({ at: Date.now(), tag }));
    void program.switchTo('host', 0);
    program.push('host', asTag(avcConfig(0, HOST)));
    program.push('host', asTag(aacConfig(0, HOST)));
    return written;
  }

  /** `n` host frames (25 fps, 1 s GOP) with their audio, each pushed as the clock reaches it. */
  function host(from: number, n: number) {
    for (let i = from; i < from + n; i += 1) {
      program.push('host', asTag(i % 25 === 0 ? keyframe(i * 40, HOST) : interframe(i * 40, HOST)));
      program.push('host', asTag(aac(i * 40 + 5, HOST)));
      jest.advanceTimersByTime(40);
    }
  }

  const frames = (written: { at: number; tag: FlvTag }[], marker: number) =>
    written.filter((w) => w.tag.type === FLV_VIDEO && !isCodecConfig(w.tag) && markerOf(w.tag) === marker);

  it('delays the feed on air little by little once a switch is prepared, then splices the trailing feed without writing what it still held', async () => {
    const written = start(160);
    host(0, 25);
    // Without a lead each frame is written as it arrives.
    const before = frames(written, HOST);
    expect(before.length).toBe(25);
    expect(before.every((w, i) => i === 0 || w.at - before[i - 1].at === 40)).toBe(true);
    program.prepareSwitch();
    const preparedAt = Date.now();
    host(25, 30);
    const led = frames(written, HOST).slice(25);
    // The frames leave 48 ms apart while the delay grows (0.2 of the time), then 40 once it is 160 ms.
    const steps = led.slice(1).map((w, i) => w.at - led[i].at);
    expect(Math.max(...steps)).toBeLessThanOrEqual(49);
    expect(Math.min(...steps)).toBeGreaterThanOrEqual(40);
    expect(steps.slice(0, 10).every((s) => s >= 47)).toBe(true);
    expect(steps.slice(-3).every((s) => s === 40)).toBe(true);
    // 160 ms behind: the frames that arrived in the last 160 ms (pushed 40, 80 and 120 ms ago) are still held.
    expect(30 - led.length).toBe(3);
    // The trailing feed: its keyframe is spliced in at once; nothing of the host's held frames follows it.
    void program.switchTo('mix', 0);
    program.push('mix', asTag(avcConfig(500, MIX)));
    program.push('mix', asTag(aacConfig(500, MIX)));
    const keyframeAt = Date.now();
    program.push('mix', asTag(keyframe(500, MIX)));
    // The host's last keyframe went out one frame ago and the codec config changes: the timeline lets one
    // more host frame out first (KEYFRAME_HOLD_FRAMES), on the lead's clock, within a frame.
    jest.advanceTimersByTime(500);
    expect(program.onAir).toBe('mix');
    const mixFirst = frames(written, MIX)[0];
    expect(mixFirst.at - keyframeAt).toBeLessThanOrEqual(40);
    // Nothing of the host's held frames comes after the splice, and the last one before it left within a frame.
    const hostAfter = frames(written, HOST).filter((w) => w.at > mixFirst.at || written.indexOf(w) > written.indexOf(mixFirst));
    expect(hostAfter).toEqual([]);
    expect(mixFirst.at - frames(written, HOST).at(-1)!.at).toBeLessThanOrEqual(40);
    expect(frames(written, HOST).length).toBeLessThan(55);
    expect(preparedAt).toBeLessThan(keyframeAt);
    // Timestamps stay continuous across the splice.
    expect(program.largestVideoStep).toBeLessThanOrEqual(40);
  });

  it('gives the delay back when the switch does not come, and writes everything it held, in order', () => {
    const written = start(160);
    host(0, 10);
    program.prepareSwitch();
    host(10, 30);
    program.cancelSwitch();
    host(40, 40);
    jest.advanceTimersByTime(1000);
    const all = frames(written, HOST);
    expect(all.length).toBe(80);
    expect(all.map((w) => w.tag.timestamp)).toEqual(Array.from({ length: 80 }, (_, i) => i * 40));
    // Given back at 0.2 of the time: frames 32 ms apart until the delay is 0, then 40 again.
    const steps = all.slice(1).map((w, i) => w.at - all[i].at);
    expect(steps.some((s) => s === 32)).toBe(true);
    expect(steps.slice(-3).every((s) => s === 40)).toBe(true);
  });

  it('with no lead configured, a prepared switch changes nothing', () => {
    const written = start(0);
    host(0, 5);
    program.prepareSwitch();
    host(5, 20);
    const all = frames(written, HOST);
    expect(all.slice(1).every((w, i) => w.at - all[i].at === 40)).toBe(true);
  });
});
