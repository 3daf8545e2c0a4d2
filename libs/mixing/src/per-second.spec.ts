import { PerSecond } from './per-second';

describe('PerSecond', () => {
  it('counts the events of the last second only', () => {
    const counter = new PerSecond();
    for (let t = 0; t < 2000; t += 100) counter.record(10_000 + t);
    // Events at 11000..11900 are within a second of 11950; 10900 and earlier are not.
    expect(counter.rate(11_950)).toBe(10);
    expect(counter.rate(12_450)).toBe(5);
    expect(counter.rate(13_000)).toBe(0);
  });
});
