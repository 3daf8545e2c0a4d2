import { admits, mixCost } from './mix-cost';

describe('mix cost', () => {
  it('charges what the calibration sustained: four 2-party 640x360@15 mixes in a 2-core budget, a fifth refused', () => {
    const twoParty = mixCost({ width: 640, height: 360, fps: 15, participants: 2 });
    expect(twoParty).toBeCloseTo(0.4, 2);
    const budget = 2 * 0.8;
    let reserved = 0;
    let admitted = 0;
    while (admits(budget, reserved, twoParty)) {
      reserved += twoParty;
      admitted += 1;
    }
    expect(admitted).toBe(4);
  });

  it('grows with the pixel rate and the participants, and charges at least two', () => {
    const big = mixCost({ width: 1280, height: 720, fps: 30, participants: 4 });
    expect(big).toBeGreaterThan(1.0);
    expect(big).toBeLessThan(1.2);
    expect(mixCost({ width: 640, height: 360, fps: 15, participants: 6 })).toBeGreaterThan(mixCost({ width: 640, height: 360, fps: 15, participants: 2 }));
    expect(mixCost({ width: 640, height: 360, fps: 15, participants: 0 })).toBe(mixCost({ width: 640, height: 360, fps: 15, participants: 2 }));
    expect(admits(1.6, 1.2, 0.4)).toBe(true);
    expect(admits(1.6, 1.21, 0.4)).toBe(false);
  });
});
