import { computeLayout, gridShape } from './layout';

const canvas = { width: 1280, height: 720 };
const users = (n: number) => Array.from({ length: n }, (_, i) => `u${i + 1}`);

describe('computeLayout', () => {
  it.each([
    [1, 1, 1],
    [2, 2, 1],
    [3, 2, 2],
    [4, 2, 2],
    [5, 3, 2],
    [6, 3, 2],
    [7, 3, 3],
    [9, 3, 3],
  ])('grid of %i is %i×%i', (n, cols, rows) => {
    expect(gridShape(n)).toEqual({ cols, rows });
  });

  it('grid tiles a balanced layout and centres a short last row', () => {
    const cells = computeLayout({ spec: { mode: 'grid' }, canvas, userIds: users(3) });
    expect(cells.map(({ userId, x, y, width, height }) => [userId, x, y, width, height])).toEqual([
      ['u1', 0, 0, 640, 360],
      ['u2', 640, 0, 640, 360],
      ['u3', 320, 360, 640, 360],
    ]);
    const two = computeLayout({ spec: { mode: 'grid' }, canvas: { width: 640, height: 360 }, userIds: users(2) });
    expect(two.map((c) => [c.x, c.y, c.width, c.height])).toEqual([
      [0, 0, 320, 360],
      [320, 0, 320, 360],
    ]);
  });

  it('float puts the host full-canvas and the others in small windows on top', () => {
    const cells = computeLayout({ spec: { mode: 'float' }, canvas, userIds: ['g1', 'host', 'g2'], hostUserId: 'host' });
    expect(cells[0]).toMatchObject({ userId: 'host', x: 0, y: 0, width: 1280, height: 720, zOrder: 0 });
    expect(cells.slice(1).map((c) => [c.userId, c.width, c.height])).toEqual([
      ['g1', 320, 180],
      ['g2', 320, 180],
    ]);
    for (const c of cells.slice(1)) {
      expect(c.zOrder).toBeGreaterThan(0);
      expect(c.x + c.width).toBeLessThanOrEqual(1280);
      expect(c.y + c.height).toBeLessThanOrEqual(720);
    }
    expect(cells[1].y).not.toBe(cells[2].y);
  });

  it('speaker puts the active speaker large and the others in a strip', () => {
    const cells = computeLayout({ spec: { mode: 'speaker' }, canvas, userIds: users(3), activeSpeaker: 'u2' });
    expect(cells[0]).toMatchObject({ userId: 'u2', x: 0, y: 0, width: 1280, height: 540 });
    expect(cells.slice(1).every((c) => c.y === 540 && c.height === 180)).toBe(true);
    // Without a known speaker, the host leads.
    expect(computeLayout({ spec: { mode: 'speaker' }, canvas, userIds: users(2), hostUserId: 'u2', activeSpeaker: 'gone' })[0].userId).toBe('u2');
  });

  it('custom cells are clamped to the canvas and even-aligned', () => {
    const cells = computeLayout({
      spec: { mode: 'custom', cells: [{ userId: 'a', x: 1201, y: -5, width: 500, height: 99, zOrder: 2, fit: 'contain' }] },
      canvas,
      userIds: ['a'],
    });
    expect(cells).toEqual([{ userId: 'a', x: 1200, y: 0, width: 78, height: 98, zOrder: 2, fit: 'contain' }]);
  });

  it('presentation: the newest screen large and never enlarged, the cameras in a column beside it; the grid without a screen', () => {
    const tiles = ['a', 'b', 'c', 'a:screen'];
    const cells = computeLayout({ spec: { mode: 'presentation' }, canvas, userIds: tiles, screens: ['a:screen'] });
    expect(cells[0]).toEqual({ userId: 'a:screen', x: 0, y: 0, width: 1024, height: 720, zOrder: 0, fit: 'contain-down' });
    const strip = cells.slice(1);
    expect(strip.map((c) => c.userId)).toEqual(['a', 'b', 'c']);
    for (const c of strip) expect(c).toMatchObject({ x: 1024, width: 256, height: 144, zOrder: 1, fit: 'cover' });
    // Centred top to bottom, in order, not overlapping.
    expect(strip[0].y).toBe(144);
    expect(strip[1].y).toBe(strip[0].y + 144);
    // Two screens: the newest (last) is large, the other joins the column.
    const two = computeLayout({ spec: { mode: 'presentation' }, canvas, userIds: [...tiles, 'b:screen'], screens: ['a:screen', 'b:screen'] });
    expect(two[0].userId).toBe('b:screen');
    expect(two.slice(1).map((c) => c.userId)).toContain('a:screen');
    // Many people: two columns, all inside the canvas.
    const many = computeLayout({ spec: { mode: 'presentation' }, canvas, userIds: [...users(8), 's'], screens: ['s'] });
    expect(many[0]).toMatchObject({ userId: 's', width: 768 });
    for (const c of many) expect(c.x + c.width <= 1280 && c.y + c.height <= 720).toBe(true);
    // A screen alone fills the canvas; no screen: the grid.
    expect(computeLayout({ spec: { mode: 'presentation' }, canvas, userIds: ['s'], screens: ['s'] })).toEqual([{ userId: 's', x: 0, y: 0, width: 1280, height: 720, zOrder: 0, fit: 'contain-down' }]);
    expect(computeLayout({ spec: { mode: 'presentation' }, canvas, userIds: users(2), screens: ['gone'] })).toEqual(computeLayout({ spec: { mode: 'grid' }, canvas, userIds: users(2) }));
  });

  it('empty conferences have no cells', () => {
    for (const mode of ['grid', 'float', 'speaker', 'presentation'] as const) expect(computeLayout({ spec: { mode }, canvas, userIds: [] })).toEqual([]);
  });
});
