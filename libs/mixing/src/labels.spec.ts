import { labelBox, MAX_LABEL_CHARS } from './labels';

describe('labelBox', () => {
  const cell = { x: 320, y: 0, width: 320, height: 360 };

  it('puts the name at the bottom-left of its cell, even-aligned, inside it', () => {
    const box = labelBox(cell, 'Alice')!;
    expect(box.fontSize).toBe(30);
    expect(box.x).toBeGreaterThanOrEqual(cell.x);
    expect(box.y + box.height).toBeLessThanOrEqual(cell.y + cell.height);
    expect(box.y).toBeGreaterThan(cell.height / 2);
    for (const n of [box.x, box.y, box.width, box.height]) expect(n % 2).toBe(0);
    expect(box.width).toBeLessThan(cell.width / 2);
  });

  it('gives wide (CJK) characters a full em, and never leaves the cell', () => {
    const latin = labelBox(cell, 'abcd')!;
    const cjk = labelBox(cell, '主播小王')!;
    expect(cjk.width).toBeGreaterThan(latin.width);
    const long = labelBox(cell, '名'.repeat(100))!;
    expect(long.x + long.width).toBeLessThanOrEqual(cell.x + cell.width);
    expect(labelBox(cell, 'x'.repeat(MAX_LABEL_CHARS + 10))!.width).toBe(labelBox(cell, 'x'.repeat(MAX_LABEL_CHARS))!.width);
  });

  it('scales with the cell, and skips cells too small or names that are blank', () => {
    expect(labelBox({ x: 0, y: 0, width: 1280, height: 720 }, 'Bob')!.fontSize).toBe(32);
    expect(labelBox({ x: 0, y: 0, width: 160, height: 90 }, 'Bob')!.fontSize).toBe(12);
    expect(labelBox({ x: 0, y: 0, width: 20, height: 20 }, 'Bob')).toBeUndefined();
    expect(labelBox(cell, '   ')).toBeUndefined();
    // A one-letter name still gets a label two ems wide.
    expect(labelBox(cell, 'B')).toMatchObject({ width: 60, fontSize: 30 });
  });
});
