import { QualityTracker, rawScore } from './quality';

const clean = { lossPct: 0, jitterMs: 5, kbps: 800 };

describe('quality score', () => {
  it('is 100 on a clean link and costs points for loss, RTT, jitter, dropped frames and no headroom', () => {
    expect(rawScore(clean)).toBe(100);
    expect(rawScore({ ...clean, lossPct: 5 })).toBe(80);
    expect(rawScore({ ...clean, lossPct: 15 })).toBe(40);
    expect(rawScore({ ...clean, lossPct: 30 })).toBe(0);
    expect(rawScore({ ...clean, rttMs: 450 })).toBe(70);
    expect(rawScore({ ...clean, jitterMs: 90 })).toBe(80);
    expect(rawScore({ ...clean, fps: 15, targetFps: 30 })).toBe(75);
    expect(rawScore({ ...clean, availableKbps: 400 })).toBe(70);
    expect(rawScore({ ...clean, availableKbps: 2000 })).toBe(100);
  });

  it('measures loss between samples, falls fast, rises slowly, and reports only moves of 5 points or more', () => {
    const t = new QualityTracker();
    expect(t.sample({ packets: 1000, lost: 0, bitrate: 800_000, jitterMs: 5 })).toBeUndefined();
    expect(t.sample({ packets: 1200, lost: 0, bitrate: 800_000, jitterMs: 5 })).toMatchObject({ score: 100, lossPct: 0, kbps: 800 });
    // 15 % loss: the raw score is 40; the smoothed one falls 60 % of the way at once.
    expect(t.sample({ packets: 1370, lost: 30, bitrate: 700_000, jitterMs: 5 })).toMatchObject({ score: 64, lossPct: 15 });
    expect(t.sample({ packets: 1540, lost: 60, bitrate: 700_000, jitterMs: 5 })!.score).toBe(50);
    // Clean again: it climbs back 20 % of the way per sample.
    expect(t.sample({ packets: 1740, lost: 60, bitrate: 800_000, jitterMs: 5 })!.score).toBe(60);
    // A move under 5 points is not reported, but is current.
    const before = t.current!.score;
    t.client = { rttMs: 160 };
    const small = t.sample({ packets: 1940, lost: 60, bitrate: 800_000, jitterMs: 5 });
    expect(t.current!.score).toBeGreaterThan(before);
    expect(small === undefined || small.score - before >= 5).toBe(true);
    expect(t.current).toMatchObject({ rttMs: 160 });
  });

  it('gives no loss figure when the counters went back (a producer replaced)', () => {
    const t = new QualityTracker();
    t.sample({ packets: 5000, lost: 10, bitrate: 1, jitterMs: 0 });
    expect(t.sample({ packets: 100, lost: 0, bitrate: 1000, jitterMs: 0 })).toMatchObject({ lossPct: 0 });
  });
});
