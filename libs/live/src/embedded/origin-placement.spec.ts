import { OriginPlacement, streamGroup } from './origin-placement';

const all = () => true;

describe('streamGroup', () => {
  it("puts a channel's host source and program together, anything else on its own", () => {
    expect(streamGroup('live', 'show__host')).toBe('live/show');
    expect(streamGroup('live', 'show')).toBe('live/show');
    expect(streamGroup('ingest', 'in-1')).toBe('ingest/in-1');
    expect(streamGroup('ingest', 'show__host')).toBe('ingest/show__host');
  });
});

describe('OriginPlacement', () => {
  it('spreads groups in proportion to the weights: 1:2:3 and 12 channels give 2, 4, 6', () => {
    const placement = new OriginPlacement([1, 2, 3], 1000);
    for (let i = 0; i < 12; i++) placement.attach(`live/ch${i}`, all, 0);
    expect(placement.loads(0)).toEqual([2, 4, 6]);
  });

  it('with equal weights fills the lowest index first, then alternates', () => {
    const placement = new OriginPlacement([1, 1], 1000);
    expect([0, 1, 2, 3].map((i) => placement.attach(`live/c${i}`, all, 0))).toEqual([0, 1, 0, 1]);
  });

  it('sends every later connection of a group (publish or play) where the group is', () => {
    const placement = new OriginPlacement([1, 2, 3], 1000);
    const first = placement.attach(streamGroup('live', 'show__host'), all, 0);
    expect(first).toBe(2);
    placement.attach('live/other', all, 0);
    expect(placement.attach(streamGroup('live', 'show'), all, 0)).toBe(first);
    expect(placement.attach(streamGroup('live', 'show'), all, 0)).toBe(first);
    expect(placement.loads(0)).toEqual([0, 1, 1]);
  });

  it('a play that comes first decides where the publish goes', () => {
    const placement = new OriginPlacement([1, 1], 1000);
    placement.attach('live/a', all, 0);
    const viewer = placement.attach(streamGroup('live', 'b'), all, 0);
    expect(viewer).toBe(1);
    expect(placement.attach(streamGroup('live', 'b'), all, 10)).toBe(1);
  });

  it('keeps a group lingerMs after its last connection, then forgets it', () => {
    const placement = new OriginPlacement([1, 1], 1000);
    placement.attach('live/a', all, 0); // on 0
    expect(placement.attach('live/b', all, 0)).toBe(1);
    placement.release('live/b', 1, 100);
    expect(placement.processOf('live/b', 1099)).toBe(1);
    // A reconnect within the linger (a publisher resuming) lands on the same process.
    expect(placement.attach('live/b', all, 1099)).toBe(1);
    placement.release('live/b', 1, 1200);
    expect(placement.processOf('live/b', 2199)).toBe(1);
    expect(placement.processOf('live/b', 2200)).toBeUndefined();
    expect(placement.loads(2200)).toEqual([1, 0]);
  });

  it('counts connections: a group stays while any is open', () => {
    const placement = new OriginPlacement([1], 0);
    placement.attach('live/a', all, 0);
    placement.attach('live/a', all, 0);
    placement.release('live/a', 0, 1);
    expect(placement.processOf('live/a', 5)).toBe(0);
    placement.release('live/a', 0, 6);
    expect(placement.processOf('live/a', 6)).toBeUndefined();
  });

  it('skips processes that are not available and re-places the groups of a dead one', () => {
    const placement = new OriginPlacement([1, 2, 3], 1000);
    const down = new Set([2]);
    const up = (i: number) => !down.has(i);
    expect(placement.attach('live/a', up, 0)).toBe(1);
    expect(placement.attach('live/b', up, 0)).toBe(0);
    placement.forgetProcess(1);
    down.add(1);
    expect(placement.attach('live/a', up, 0)).toBe(0);
    expect(placement.attach('live/c', () => false, 0)).toBeUndefined();
    // A release for the old process does not touch the group's new place.
    placement.release('live/a', 1, 0);
    expect(placement.processOf('live/a', 5000)).toBe(0);
  });

  it('moves a group whose process is unavailable even before it was forgotten', () => {
    const placement = new OriginPlacement([1, 1], 1000);
    expect(placement.attach('live/a', all, 0)).toBe(0);
    expect(placement.attach('live/a', (i) => i !== 0, 0)).toBe(1);
  });

  it('refuses weights that are not positive', () => {
    expect(() => new OriginPlacement([1, 0], 0)).toThrow();
    expect(() => new OriginPlacement([], 0)).toThrow();
  });
});
