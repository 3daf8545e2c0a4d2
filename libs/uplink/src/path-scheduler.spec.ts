import { dealOne, PathScheduler, trainCapacityKbps } from './path-scheduler';

describe('dealOne (smooth weighted round robin)', () => {
  it("deals the seed's weights 2:1:1:2 as shares 2/6, 1/6, 1/6, 2/6, evenly spread", () => {
    const items = [2, 1, 1, 2].map((weight) => ({ weight, current: 0 }));
    const picks = Array.from({ length: 600 }, () => dealOne(items));
    const counts = [0, 1, 2, 3].map((i) => picks.filter((p) => p === i).length);
    expect(counts).toEqual([200, 100, 100, 200]);
    // Every window of 6 turns holds each path its share: no path gets a burst.
    for (let at = 0; at + 6 <= 60; at += 6) {
      const window = picks.slice(at, at + 6);
      expect([0, 1, 2, 3].map((i) => window.filter((p) => p === i).length)).toEqual([2, 1, 1, 2]);
    }
  });
});

/** Sends `n` packets (sequence numbers from `from`), acknowledging each at once unless its path is in `losing` (then reported lost with probability `lossRate`). */
function drive(s: PathScheduler, from: number, n: number, losing: Record<string, number> = {}): Record<string, number> {
  const carried: Record<string, number> = {};
  let lossDebt: Record<string, number> = {};
  for (let seq = from; seq < from + n; seq++) {
    const route = s.route(seq, 1316)!;
    carried[route.primary] = (carried[route.primary] ?? 0) + 1;
    const rate = losing[route.primary] ?? 0;
    lossDebt = { ...lossDebt, [route.primary]: (lossDebt[route.primary] ?? 0) + rate };
    if (lossDebt[route.primary] >= 1) {
      lossDebt[route.primary] -= 1;
      s.lost([seq]);
    } else s.acked([seq]);
  }
  return carried;
}

describe('PathScheduler', () => {
  it('shares packets equally over equal clean paths, and carries nothing on a path that is not up', () => {
    const s = new PathScheduler(['a', 'b', 'c'], 0);
    expect(s.route(1, 100)).toBeUndefined();
    s.setUp('a', true);
    s.setUp('b', true);
    const carried = drive(s, 1, 300);
    expect(carried).toEqual({ a: 150, b: 150 });
    const figures = s.tick(1000);
    expect(figures.map((f) => [f.name, f.sharePct, f.fecOnly])).toEqual([
      ['a', 50, false],
      ['b', 50, false],
      ['c', 0, false],
    ]);
  });

  it('cuts a losing path at once, gives a path with 20 % loss only redundancy, and lets it back slowly', () => {
    const s = new PathScheduler(['good', 'bad'], 0);
    s.setUp('good', true);
    s.setUp('bad', true);
    drive(s, 1, 400, { bad: 0.2 });
    const [good, bad] = s.tick(1000);
    expect(bad.lossPct).toBeGreaterThan(15);
    // 20 % loss costs 80 points on the scale: far below the redundancy threshold (50).
    expect(bad.score).toBeLessThan(50);
    expect(bad.fecOnly).toBe(true);
    expect(good.fecOnly).toBe(false);
    // Now the bad path carries no share of its own: only a copy of every 10th packet.
    let copies = 0;
    let primaries = 0;
    for (let seq = 1000; seq < 1200; seq++) {
      const route = s.route(seq, 1316)!;
      if (route.primary === 'bad') primaries += 1;
      if (route.copies.includes('bad')) copies += 1;
      s.acked([seq]);
    }
    expect(primaries).toBe(0);
    expect(copies).toBe(20);
    // Clean again, it climbs back slowly (the score rises by a fifth of the gap per tick), then carries a share.
    const scores: number[] = [];
    for (let t = 2; t < 12; t++) {
      drive(s, t * 1000, 200);
      scores.push(s.tick(t * 1000).find((f) => f.name === 'bad')!.score);
    }
    expect(scores[0]).toBeLessThan(60);
    expect(scores.at(-1)).toBeGreaterThan(90);
    const back = drive(s, 20000, 300);
    expect(back.bad).toBeGreaterThan(100);
  });

  it('follows the paths scores: a path with some loss gets a smaller share', () => {
    const s = new PathScheduler(['a', 'b'], 0);
    s.setUp('a', true);
    s.setUp('b', true);
    drive(s, 1, 1000, { b: 0.05 });
    const [a, b] = s.tick(1000);
    // 5 % loss: about 80 points against 100.
    expect(b.score).toBeGreaterThanOrEqual(70);
    expect(b.score).toBeLessThan(a.score);
    const carried = drive(s, 2000, 900);
    const share = carried.b / 900;
    expect(share).toBeCloseTo(b.score / (a.score + b.score), 1);
  });

  it('skips a path whose window is full, and uses the others', () => {
    const s = new PathScheduler(['a', 'b'], 0);
    s.setUp('a', true);
    s.setUp('b', true);
    // Nothing acknowledged: each path may have 20 packets in flight (window 20000 / 1000).
    const seen: Record<string, number> = {};
    for (let seq = 1; seq <= 40; seq++) {
      const r = s.route(seq, 1316)!;
      seen[r.primary] = (seen[r.primary] ?? 0) + 1;
    }
    expect(seen).toEqual({ a: 20, b: 20 });
    // Both full: the one with the most room per packet in flight still carries (never drop the stream).
    expect(s.route(41, 1316)).toBeDefined();
    // An SRT ACK up to 30 (the next one it expects) frees 1-29: 30-41 stay in flight.
    s.ackedUpTo(30);
    expect(s.figures().reduce((n, f) => n + f.inFlight, 0)).toBe(12);
  });

  it('when every path is weak, deals over all of them within their windows instead of piling everything on one', () => {
    const s = new PathScheduler(['a', 'b', 'c'], 0);
    for (const name of ['a', 'b', 'c']) s.setUp(name, true);
    drive(s, 1, 600, { a: 0.2, b: 0.25, c: 0.3 });
    expect(s.tick(1000).every((f) => f.fecOnly)).toBe(true);
    // Nothing acknowledged: the best path alone may not take more than its window (20 packets) while the others have room.
    const seen: Record<string, number> = {};
    for (let seq = 1000; seq < 1045; seq++) {
      const r = s.route(seq, 1316)!;
      seen[r.primary] = (seen[r.primary] ?? 0) + 1;
    }
    expect(Object.keys(seen).sort()).toEqual(['a', 'b', 'c']);
    expect(Math.max(...Object.values(seen))).toBeLessThanOrEqual(20);
  });

  it("scales a path's share by its factor (a helper whose allowance runs out soon)", () => {
    const s = new PathScheduler(['own', 'helper'], 0);
    s.setUp('own', true);
    s.setUp('helper', true);
    s.setFactor('helper', 0.5);
    const carried = drive(s, 1, 300);
    expect(carried).toEqual({ own: 200, helper: 100 });
  });

  it('sends a lost packet again over another path than the one that lost it', () => {
    const s = new PathScheduler(['a', 'b'], 0);
    s.setUp('a', true);
    s.setUp('b', true);
    for (let seq = 1; seq <= 10; seq++) {
      const first = s.route(seq, 1316)!.primary;
      s.lost([seq]);
      expect(s.route(seq, 1316)!.primary).not.toBe(first);
      s.acked([seq]);
    }
  });

  it('a path that goes down carries nothing until it is up again', () => {
    const s = new PathScheduler(['a', 'b'], 0);
    s.setUp('a', true);
    s.setUp('b', true);
    s.setUp('b', false);
    expect(drive(s, 1, 50)).toEqual({ a: 50 });
    s.setUp('b', true);
    expect(drive(s, 100, 50).b).toBeGreaterThan(20);
  });
});

describe('PathScheduler: NAKs of overtaken packets, redundancy-only paths, capacity', () => {
  it('takes a NAK back when the path that carried the packet then acknowledges it (overtaken, not lost)', () => {
    const s = new PathScheduler(['a', 'b'], 0);
    s.setUp('a', true);
    s.setUp('b', true);
    const on: Record<number, string> = {};
    for (let seq = 1; seq <= 200; seq++) on[seq] = s.route(seq, 1316)!.primary;
    // Every 4th packet is NAKed as lost, yet its own path's SRTLA ACK names it later.
    const nakked = Object.keys(on).map(Number).filter((seq) => seq % 4 === 0);
    expect(s.lost(nakked).length).toBe(nakked.length);
    for (const name of ['a', 'b']) {
      const mine = Object.keys(on).map(Number).filter((seq) => on[seq] === name);
      for (let at = 0; at < mine.length; at += 10) s.acked(mine.slice(at, at + 10), name);
    }
    const figures = s.tick(1000);
    expect(figures.map((f) => f.lossPct)).toEqual([0, 0]);
    expect(figures.every((f) => f.score === 100)).toBe(true);
    // A NAK whose packet only another path brought (a retransmission) stays charged.
    const seq = 500;
    const first = s.route(seq, 1316)!.primary;
    expect(s.lost([seq])).toEqual([first]);
    const again = s.route(seq, 1316)!.primary;
    expect(s.acked([seq], again)).toEqual([]);
  });

  it('measures a redundancy-only path by its copies: it stays redundancy-only while they are lost, and comes back once they arrive', () => {
    const s = new PathScheduler(['good', 'weak'], 0);
    s.setUp('good', true);
    s.setUp('weak', true);
    drive(s, 1, 400, { weak: 0.3 });
    expect(s.tick(1000).find((f) => f.name === 'weak')!.fecOnly).toBe(true);
    // 20 ticks: the weak path carries copies of every 10th packet; 30 % of them (or of their ACKs) never come back.
    let seq = 1000;
    const weakFigures = [];
    for (let t = 2; t < 22; t++) {
      const copies: number[] = [];
      for (let n = 0; n < 200; n++, seq++) {
        const route = s.route(seq, 1316)!;
        expect(route.primary).toBe('good');
        s.acked([seq], 'good');
        if (route.copies.includes('weak')) copies.push(seq);
      }
      s.acked(copies.filter((_, i) => i % 10 >= 3), 'weak');
      weakFigures.push(s.tick(t * 1000).find((f) => f.name === 'weak')!);
    }
    expect(weakFigures.every((f) => f.fecOnly)).toBe(true);
    expect(weakFigures.at(-1)!.lossPct).toBeGreaterThan(20);
    // Its copies all arrive again: it climbs back and carries a share (as before it was measured).
    for (let t = 22; t < 36; t++) {
      const copies: number[] = [];
      for (let n = 0; n < 200; n++, seq++) {
        const route = s.route(seq, 1316)!;
        s.acked([seq], route.primary);
        if (route.copies.includes('weak')) copies.push(seq);
      }
      s.acked(copies, 'weak');
      s.tick(t * 1000);
    }
    const back = drive(s, seq, 300);
    expect(back.weak).toBeGreaterThan(100);
  });

  it('limits the share of a path whose round trip climbs while it carries (its queue fills), and gives it back once it is quiet', () => {
    const s = new PathScheduler(['big', 'small'], 0);
    s.setUp('big', true);
    s.setUp('small', true);
    const second = (t: number, rtt: Record<string, number>) => {
      s.roundTrip('big', rtt.big);
      s.roundTrip('small', rtt.small);
      const carried = drive(s, t * 1000, 180);
      return { carried, figures: s.tick(t * 1000) };
    };
    for (let t = 1; t <= 3; t++) second(t, { big: 10, small: 10 });
    expect(second(4, { big: 10, small: 10 }).carried.small).toBe(90);
    // The small path's queue fills (round trip 10 → 150 ms): its share is cut, fast, and the big path takes the rest.
    const cut = [5, 6, 7].map((t) => second(t, { big: 10, small: 150 }));
    expect(cut[0].figures.find((f) => f.name === 'small')!.limitKbps).toBeDefined();
    expect(cut[2].carried.small).toBeLessThan(45);
    expect(cut[2].carried.big + cut[2].carried.small).toBe(180);
    // Quiet again: it grows back step by step until the limit no longer binds.
    const regrow = Array.from({ length: 30 }, (_, i) => second(8 + i, { big: 10, small: 10 }).carried.small);
    expect(regrow[1]).toBeLessThan(60);
    expect(regrow.at(-1)).toBe(90);
    expect(s.figures().find((f) => f.name === 'small')!.limitKbps).toBeUndefined();
  });

  it("limits a path whose SRTLA ACKs come back later and later (its queue fills), timed from the packets' sends", () => {
    const s = new PathScheduler(['big', 'small'], 0);
    s.setUp('big', true);
    s.setUp('small', true);
    let seq = 1;
    const pending: Record<string, number[]> = { big: [], small: [] };
    // One tick: 180 packets over 1 s; each path's ACK (every 10 of its packets) comes back after its delay.
    const second = (t: number, delay: Record<string, number>) => {
      const carried: Record<string, number> = { big: 0, small: 0 };
      for (let n = 0; n < 180; n++, seq++) {
        const at = t * 1000 + n * 5.5;
        const primary = s.route(seq, 1316, at)!.primary;
        carried[primary] += 1;
        pending[primary].push(seq);
        if (pending[primary].length === 10) {
          s.acked(pending[primary], primary, at + delay[primary]);
          pending[primary] = [];
        }
      }
      s.tick((t + 1) * 1000);
      return carried;
    };
    for (let t = 1; t <= 3; t++) second(t, { big: 5, small: 5 });
    expect(second(4, { big: 5, small: 5 }).small).toBe(90);
    const cut = [5, 6, 7].map((t) => second(t, { big: 5, small: 120 }));
    expect(s.figures().find((f) => f.name === 'small')!.limitKbps).toBeDefined();
    expect(cut[2].small).toBeLessThan(45);
    const regrow = Array.from({ length: 30 }, (_, i) => second(8 + i, { big: 5, small: 5 }).small);
    expect(regrow.at(-1)).toBe(90);
  });
});

describe('PathScheduler: available bandwidth from probe trains', () => {
  it('reads a bottleneck from the spacing of a train\'s echoes, leaving out the first few (a token bucket passes them at once)', () => {
    // 12 probes of 1316 bytes; the first 4 pass at once, the rest are 1316 × 8 / 1200 kbit/s = 8.77 ms apart.
    const at = (i: number) => (i < 4 ? 0.1 * i : 0.3 + (i - 3) * 8.773);
    const echoes = Array.from({ length: 12 }, (_, index) => ({ index, atMs: at(index) }));
    expect(trainCapacityKbps(echoes, 1316, 5)).toBeCloseTo(1200, -1);
    // Counting from the start would take the bucket's burst for capacity.
    expect(trainCapacityKbps(echoes, 1316, 0)!).toBeGreaterThan(1300);
    // Lost echoes: the indices say how far apart the rest were sent.
    const lossy = echoes.filter((e) => e.index % 3 !== 0);
    expect(trainCapacityKbps(lossy, 1316, 5)).toBeCloseTo(1200, -1);
    // Too few back, or all at once: nothing to tell.
    expect(trainCapacityKbps(echoes.slice(0, 7), 1316, 5)).toBeUndefined();
    expect(trainCapacityKbps(echoes.map((e) => ({ ...e, atMs: 5 })), 1316, 5)).toBeUndefined();
  });

  it('shares packets in proportion to the paths\' capacities (2400 and 1200 kbit/s → 2/3 and 1/3), the median of the last trains counting', () => {
    const s = new PathScheduler(['direct', 'helper'], 0);
    s.setUp('direct', true);
    s.setUp('helper', true);
    expect(drive(s, 1, 300)).toEqual({ direct: 150, helper: 150 });
    for (const kbps of [2400, 2350, 9000]) s.capacity('direct', kbps);
    // Only one path measured: the other counts as the median of the measured, so nothing moves yet.
    expect(drive(s, 301, 300)).toEqual({ direct: 150, helper: 150 });
    for (const kbps of [1200, 1180, 100]) s.capacity('helper', kbps);
    const carried = drive(s, 601, 600);
    // 2400 : 1180 (medians; the outliers 9000 and 100 do not count).
    expect(carried.direct / 600).toBeCloseTo(2400 / 3580, 1);
    expect(carried.direct).toBeGreaterThan(390);
    expect(s.figures().map((f) => f.capacityKbps)).toEqual([2400, 1180]);
  });

  it('carries no data on a path while its train drains, and does not take the ACKs behind the train for a filling queue', () => {
    const s = new PathScheduler(['a', 'b'], 0);
    s.setUp('a', true);
    s.setUp('b', true);
    s.capacity('a', 1000);
    // 100 kbit at 1000 kbit/s: 100 ms.
    expect(s.probing('a', 1000, 100_000)).toBe(100);
    // Each packet acknowledged at once (no window fills).
    const send = (seq: number, now: number) => {
      const primary = s.route(seq, 1316, now)!.primary;
      s.acked([seq], primary, now);
      return primary;
    };
    const during = Array.from({ length: 20 }, (_, i) => send(i + 1, 1000 + i * 4));
    expect(new Set(during)).toEqual(new Set(['b']));
    const after = Array.from({ length: 20 }, (_, i) => send(i + 100, 1100 + i));
    expect(after.filter((p) => p === 'a').length).toBe(10);
    // A probe with no figure yet drains at an assumed 1000 kbit/s, within bounds.
    expect(s.probing('b', 2000, 10_000_000)).toBe(250);
  });

  it('ACKs that come back late just after a train (queued behind its echoes) do not limit the path; the same late ACKs at another time do', () => {
    const late = (probe: boolean) => {
      const s = new PathScheduler(['a', 'b'], 0);
      s.setUp('a', true);
      s.setUp('b', true);
      let seq = 1;
      // Three quiet seconds: every packet acknowledged 5 ms after its send.
      for (let t = 1; t <= 3; t++) {
        for (let n = 0; n < 180; n++, seq++) {
          const at = t * 1000 + n * 5.5;
          s.acked([seq], s.route(seq, 1316, at)!.primary, at + 5);
        }
        s.tick((t + 1) * 1000);
      }
      // b's train goes at 4000 ms (drains 100 ms there, its echoes as long back); b's ACKs of the packets sent
      // just after come back 120 ms late, inside the 250 ms the train can hold them.
      if (probe) s.probing('b', 4000, 100_000);
      for (let n = 0; n < 16; n++, seq++) {
        const at = 4100 + n * 1.25;
        const primary = s.route(seq, 1316, at)!.primary;
        s.acked([seq], primary, at + (primary === 'b' ? 120 : 5));
      }
      s.tick(4300);
      return s.figures().find((f) => f.name === 'b')!.limitKbps;
    };
    expect(late(false)).toBeDefined();
    expect(late(true)).toBeUndefined();
  });
});
