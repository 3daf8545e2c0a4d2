import { placeOverlays } from './overlay';

describe('placeOverlays', () => {
  const canvas = { width: 640, height: 360 };

  it('keeps overlays inside the canvas, even-aligned, in order', () => {
    expect(placeOverlays([{ x: 21, y: 15, width: 101, height: 31, color: '#ff0000' }, { x: 0, y: 0, width: 10, height: 10, text: 'hi' }], canvas)).toEqual([
      { x: 20, y: 14, width: 102, height: 32, color: '#ff0000' },
      { x: 0, y: 0, width: 10, height: 10, text: 'hi' },
    ]);
  });

  it('clips at the edges and drops what is outside or too small', () => {
    expect(placeOverlays([{ x: 600, y: 340, width: 100, height: 100 }], canvas)).toEqual([{ x: 600, y: 340, width: 40, height: 20 }]);
    expect(placeOverlays([{ x: 700, y: 0, width: 50, height: 50 }, { x: 0, y: 0, width: 1, height: 50 }], canvas)).toEqual([]);
  });
});
