import { hasRoom, leastLoaded } from './placement';

describe('placement', () => {
  it('prefers the lowest load relative to weight', () => {
    const workers = [
      { slot: 0, load: 10, weight: 1 },
      { slot: 1, load: 15, weight: 2 },
      { slot: 2, load: 20, weight: 3 },
    ];
    expect(leastLoaded(workers, 100)?.slot).toBe(2); // 20/3 < 15/2 < 10/1
  });

  it('spreads work in proportion to weight (1:2:3)', () => {
    const workers = [1, 2, 3].map((weight, slot) => ({ slot, load: 0, weight }));
    for (let i = 0; i < 600; i++) leastLoaded(workers, 1000)!.load += 1;
    expect(workers.map((w) => w.load)).toEqual([100, 200, 300]);
  });

  it('skips full workers and says when all are full', () => {
    const workers = [
      { slot: 0, load: 4, weight: 1 },
      { slot: 1, load: 9, weight: 2 },
    ];
    expect(hasRoom(workers[0], 4)).toBe(false);
    expect(leastLoaded(workers, 5)?.slot).toBe(0);
    expect(leastLoaded(workers, 4)?.slot).toBe(undefined);
    expect(leastLoaded(workers, 5, 2)?.slot).toBe(undefined);
    expect(leastLoaded([{ slot: 0, load: 5, weight: 1 }, workers[1]], 5)?.slot).toBe(1);
  });

  it('breaks ties by slot order and ignores zero weights', () => {
    expect(leastLoaded([{ slot: 0, load: 0, weight: 0 }, { slot: 1, load: 0, weight: 1 }, { slot: 2, load: 0, weight: 1 }], 10)?.slot).toBe(1);
  });
});
