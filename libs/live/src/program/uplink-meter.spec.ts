import { UplinkMeter } from './uplink-meter';

/** Feeds `seconds` of a push: video at `fps` (each frame `bytes`), arriving `delay(i)` ms after its timestamp. */
function feed(meter: UplinkMeter, from: number, seconds: number, fps: number, bytes: number, delay: (i: number) => number) {
  const reports = [];
  for (let i = 0; i < seconds * fps; i += 1) {
    const ts = from + (i * 1000) / fps;
    const r = meter.tag(ts + delay(i), ts, bytes, true);
    if (r) reports.push(r);
  }
  return reports;
}

describe('host uplink meter', () => {
  it('scores a push that arrives on time at its own rate near 100', () => {
    const meter = new UplinkMeter(25);
    feed(meter, 0, 6, 25, 5000, () => 20);
    expect(meter.current).toMatchObject({ fps: 25, kbps: 1000, jitterMs: 0 });
    expect(meter.current!.score).toBeGreaterThanOrEqual(98);
  });

  it('scores a push whose frames come late and bunched, at half its rate, far lower', () => {
    const meter = new UplinkMeter(25);
    feed(meter, 0, 4, 25, 5000, () => 20);
    const good = meter.current!.score;
    // Every other frame dropped; the rest arrive in bursts up to 800 ms late.
    const reports = feed(meter, 4000, 8, 12.5, 5000, (i) => 20 + ((i * 97) % 800));
    expect(reports.length).toBeGreaterThan(0);
    expect(meter.current!.fps).toBeLessThan(14);
    expect(meter.current!.jitterMs).toBeGreaterThan(100);
    expect(meter.current!.score).toBeLessThan(good - 40);
  });

  it('counts a stall as a long gap and costs points for it', () => {
    // Frames stop for 1.7 s after 2 s of a good push; the next frame closes the window.
    const meter2 = new UplinkMeter(25);
    feed(meter2, 0, 2, 25, 5000, () => 20);
    const r = meter2.tag(3700, 3700, 5000, true);
    expect(r ?? meter2.current).toMatchObject({ longestGapMs: expect.any(Number) });
    expect(meter2.current!.longestGapMs).toBeGreaterThanOrEqual(1500);
    expect(meter2.current!.score).toBeLessThan(75);
  });
});
