import { VideoPlayout, deliveredAtPace } from './video-playout';

const FRAME = 1000 / 15;

/** Which output tick (15 fps, ticks at k·FRAME + phase) first shows each display time. */
function tickOf(display: number, phase = 20): number {
  return Math.ceil((display - phase) / FRAME);
}

/** A stream of pictures at 15 fps: pts k·FRAME, arriving at k·FRAME + transit + extra(k). */
function run(p: VideoPlayout, from: number, to: number, extra: (k: number) => number, transit = 40): { k: number; arrival: number; display: number }[] {
  const out = [];
  for (let k = from; k < to; k++) {
    const pts = k * FRAME;
    const arrival = pts + transit + extra(k);
    out.push({ k, arrival, display: p.schedule(pts, arrival) });
  }
  // Pictures are delivered in arrival order; a burst has equal arrivals.
  return out;
}

describe('VideoPlayout', () => {
  it('shows pictures as they come during the warm-up and on a clean path after it', () => {
    const p = new VideoPlayout();
    const shown = run(p, 0, 300, () => 0);
    for (const s of shown) expect(s.display).toBeCloseTo(s.arrival, 6);
    expect(p.holdMs).toBe(0);
  });

  it('spreads a late picture and the one arriving with it over two ticks (the compositor showed only the second)', () => {
    const p = new VideoPlayout();
    run(p, 0, 150, () => 0);
    // Picture 150 is held 60 ms (a NACK round trip) and arrives with picture 151.
    const shown = run(p, 150, 160, (k) => (k === 150 ? 60 : k === 151 ? 60 - FRAME : 0));
    // The hold it took is given back afterwards (at most one picture skipped per picture interval of
    // it: with the sender's rate equal to the output's there is no other way to catch up).
    const ticks = shown.slice(0, 3).map((s) => tickOf(s.display));
    expect(new Set(ticks).size).toBe(ticks.length);
    for (const s of shown) expect(s.display).toBeGreaterThanOrEqual(s.arrival - 1e-6);
    // By arrival alone the two would have landed in one tick.
    expect(tickOf(shown[0].arrival)).toBe(tickOf(shown[1].arrival));
    expect(p.late).toBeGreaterThanOrEqual(1);
  });

  it('keeps every picture in its own tick under repeated late pictures, holding about what the path needs', () => {
    const p = new VideoPlayout();
    run(p, 0, 30, () => 0);
    // Every 7th picture 80 ms late, and the next one arrives with it.
    const lateBy = (k: number) => (k % 7 === 0 ? 80 : k % 7 === 1 ? 80 - FRAME : 0);
    const shown = run(p, 30, 600, lateBy);
    const ticks = shown.slice(150).map((s) => tickOf(s.display));
    expect(new Set(ticks).size).toBe(ticks.length);
    // By arrival, each late picture and the next shared a tick.
    const byArrival = shown.slice(150).map((s) => tickOf(s.arrival));
    expect(new Set(byArrival).size).toBeLessThan(byArrival.length - 50);
    expect(p.holdMs).toBeGreaterThanOrEqual(75);
    expect(p.holdMs).toBeLessThanOrEqual(100);
  });

  it('gives the hold back once the path is clean again, and never holds more than maxDelayMs', () => {
    const p = new VideoPlayout({ maxDelayMs: 300 });
    run(p, 0, 30, () => 0);
    // A 1 s stall: the pictures of that second arrive at once.
    const stalled = run(p, 30, 46, (k) => (46 - k) * FRAME);
    for (const s of stalled) expect(s.display - (s.k * FRAME + 40)).toBeLessThanOrEqual(300 + 1e-6);
    expect(p.holdMs).toBeLessThanOrEqual(300);
    expect(p.holdMs).toBeGreaterThan(200);
    run(p, 46, 46 + 15 * 5, () => 0);
    expect(p.holdMs).toBeLessThanOrEqual(5);
  });

  it('follows a sender clock 100 ppm fast over ten minutes without holding pictures back', () => {
    const p = new VideoPlayout();
    const n = 15 * 600;
    let maxHold = 0;
    for (let k = 0; k < n; k++) {
      const pts = k * FRAME * 1.0001;
      const arrival = k * FRAME + 40 + (k % 3);
      p.schedule(pts, arrival);
      if (k > 30) maxHold = Math.max(maxHold, p.holdMs);
    }
    expect(maxHold).toBeLessThanOrEqual(5);
  });

  it('starts over when the timestamps jump against the wall clock', () => {
    const p = new VideoPlayout({ warmupMs: 0 });
    run(p, 0, 60, () => 0);
    // A new stream: pts back near zero while the wall clock goes on.
    const display = p.schedule(0, 60 * FRAME + 40);
    expect(display).toBeCloseTo(60 * FRAME + 40, 6);
    expect(p.resets).toBe(1);
  });

  it('shows a picture without a timestamp at once', () => {
    const p = new VideoPlayout();
    expect(p.schedule(undefined, 1234)).toBe(1234);
  });
});

describe('deliveredAtPace (a decoder caught up with its input, or racing through a backlog)', () => {
  const pictures = (arrivalStep: number, n = 4) => Array.from({ length: n }, (_, i) => ({ arrival: 1000 + i * arrivalStep, pts: 5000 + i * 40 }));
  it('a decoder racing through a backlog (pictures 40 ms apart arriving 3 ms apart) is not caught up; one at the pace is', () => {
    expect(deliveredAtPace(pictures(3))).toBe(false);
    expect(deliveredAtPace(pictures(40))).toBe(true);
    // Jitter around the pace still counts; well under it does not.
    expect(deliveredAtPace(pictures(30))).toBe(true);
    expect(deliveredAtPace(pictures(20))).toBe(false);
  });

  it('looks at the last pictures only, and needs enough of them', () => {
    expect(deliveredAtPace([...pictures(3, 10), ...pictures(40).map((p) => ({ arrival: p.arrival + 500, pts: p.pts + 400 }))])).toBe(true);
    expect(deliveredAtPace(pictures(40, 3))).toBe(false);
    // Timestamps that do not move: nothing to tell.
    expect(deliveredAtPace(pictures(0).map((p) => ({ ...p, pts: 5000 })))).toBe(true);
  });
});
