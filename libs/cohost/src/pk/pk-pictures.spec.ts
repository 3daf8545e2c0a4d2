import { placeOverlays } from '@gw/mixing';
import { battleOverlays, formatTimeLeft, pkCells, PK_OTHER_COLOR, PK_OWN_COLOR, scoreBarGeometry } from './pk-pictures';

const canvas = { width: 640, height: 360 };

describe('PK pictures', () => {
  it('puts the own host on the left half and the other on the right', () => {
    expect(pkCells(canvas, 'me', 'them')).toEqual([
      { userId: 'me', x: 0, y: 0, width: 320, height: 360, zOrder: 0, fit: 'cover' },
      { userId: 'them', x: 320, y: 0, width: 320, height: 360, zOrder: 0, fit: 'cover' },
    ]);
    const odd = pkCells({ width: 854, height: 480 }, 'me', 'them');
    expect(odd[0].width + odd[1].width).toBe(854);
  });

  it("puts the channel's own guests in a column of windows down the outer edge of its own half, below the bar", () => {
    const cells = pkCells(canvas, 'me', 'them', ['g1', 'g2']);
    expect(cells.slice(0, 2)).toEqual(pkCells(canvas, 'me', 'them'));
    const [g1, g2] = cells.slice(2);
    expect(g1).toEqual({ userId: 'g1', x: 8, y: 68, width: 82, height: 60, zOrder: 1, fit: 'cover' });
    expect(g2).toMatchObject({ userId: 'g2', x: 8, y: 136, width: 82, height: 60 });
    const bar = scoreBarGeometry(canvas);
    expect(g1.y).toBeGreaterThan(bar.y + bar.height);
    // A fourth guest starts a second column; all stay inside the own half, apart from each other.
    const many = pkCells(canvas, 'me', 'them', ['a', 'b', 'c', 'd']).slice(2);
    expect(many[3]).toMatchObject({ x: 98, y: 68 });
    for (const g of many) {
      expect(g.x + g.width).toBeLessThanOrEqual(320);
      expect(g.y + g.height).toBeLessThanOrEqual(360);
    }
  });

  it('formats the time left as m:ss, rounded up', () => {
    expect(formatTimeLeft(61_000)).toBe('1:01');
    expect(formatTimeLeft(100)).toBe('0:01');
    expect(formatTimeLeft(-5)).toBe('0:00');
  });

  it('splits the bar by the scores, own colour from the left, half and half at 0:0', () => {
    const g = scoreBarGeometry(canvas);
    const fills = (own: number, other: number) => battleOverlays(canvas, { own, other, endsAt: 30_000 }, 0).filter((o) => !o.text);
    expect(fills(0, 0)).toEqual([
      { x: g.x, y: g.y, width: g.width / 2, height: g.height, color: PK_OWN_COLOR },
      { x: g.x + g.width / 2, y: g.y, width: g.width / 2, height: g.height, color: PK_OTHER_COLOR },
    ]);
    expect(fills(100, 0)).toEqual([{ x: g.x, y: g.y, width: g.width, height: g.height, color: PK_OWN_COLOR }]);
    const [own, other] = fills(1, 3);
    expect(own.width).toBe(Math.floor((g.width / 4) / 2) * 2);
    expect(own.width + other.width).toBe(g.width);
  });

  it('writes both scores and the time left, inside the canvas and clear of the middle of the pictures', () => {
    const overlays = battleOverlays(canvas, { own: 12, other: 7, endsAt: 45_000 }, 0);
    expect(overlays.filter((o) => o.text).map((o) => o.text)).toEqual(['12', '7', '0:45']);
    expect(placeOverlays(overlays, canvas)).toEqual(overlays); // already even and inside
    for (const o of overlays) expect(o.y + o.height).toBeLessThanOrEqual(canvas.height * 0.25);
    // A score too small for its label keeps its colour but no text.
    expect(battleOverlays(canvas, { own: 1, other: 99, endsAt: 1000 }, 0).filter((o) => o.text).map((o) => o.text)).toEqual(['99', '0:01']);
  });
});
