import { forgottenNodes, GONE_AFTER_MS, nodeState, redisTimeMs, viewNodes } from './node-liveness';

const report = (id: string, extra: object = {}) => JSON.stringify({ id, address: `http://${id}:3000`, cpuBudget: 1.6, cpuUsed: 0.25, cpuReserved: 0.4, conferences: 2, mixTasks: 1, ...extra });

describe('node liveness', () => {
  it('a node is up until it has been silent for more than 5 s, and gone at once when it stopped', () => {
    expect(nodeState(10_000, 10_000 + GONE_AFTER_MS)).toBe('up');
    expect(nodeState(10_000, 10_001 + GONE_AFTER_MS)).toBe('gone');
    expect(nodeState(10_000, 10_000, true)).toBe('gone');
  });

  it('views every readable node, sorted by id, with its last heartbeat and silence', () => {
    const now = 1_700_000_010_000;
    const views = viewNodes({ b: report('b'), a: report('a', { stopped: true }), c: 'not json', d: report('d') }, { a: String(now - 100), b: String(now - 6000), c: String(now), d: String(now - 200) }, now);
    expect(views.map((v) => [v.id, v.state, v.silentForMs])).toEqual([
      ['a', 'gone', 100],
      ['b', 'gone', 6000],
      ['d', 'up', 200],
    ]);
    expect(views[2]).toEqual({ id: 'd', address: 'http://d:3000', state: 'up', cpuBudget: 1.6, cpuUsed: 0.25, cpuReserved: 0.4, conferences: 2, mixTasks: 1, lastSeen: new Date(now - 200).toISOString(), silentForMs: 200 });
    // A report without its heartbeat time is not listed (it would have no state).
    expect(viewNodes({ x: report('x') }, {}, now)).toEqual([]);
  });

  it('forgets nodes silent for over an hour', () => {
    const now = 10 * 3600_000;
    expect(forgottenNodes({ a: String(now - 3600_001), b: String(now - 3599_000), c: 'junk' }, now)).toEqual(['a', 'c']);
  });

  it('reads Redis TIME replies', () => {
    expect(redisTimeMs(['1700000000', '123999'])).toBe(1_700_000_000_123);
  });
});
