import { layerForCell } from './layers';

describe('layerForCell', () => {
  const camera = { width: 640, height: 360, scales: [2, 1] };

  it('takes the half-size layer for a cell it covers without enlarging', () => {
    expect(layerForCell(camera, { width: 320, height: 180, fit: 'cover' })).toBe(0);
    // A picture-in-picture cell.
    expect(layerForCell(camera, { width: 160, height: 90, fit: 'cover' })).toBe(0);
  });

  it('takes the full layer when the half one would be enlarged', () => {
    // Side by side in a 640x360 mix: a 320x360 cell covered by a 16:9 picture needs it 640 wide.
    expect(layerForCell(camera, { width: 320, height: 360, fit: 'cover' })).toBe(1);
    expect(layerForCell(camera, { width: 640, height: 360, fit: 'cover' })).toBe(1);
  });

  it('judges a contained cell by the side that fits', () => {
    // Contained, the 320x360 cell shows the picture 320 wide: the half layer suffices.
    expect(layerForCell(camera, { width: 320, height: 360, fit: 'contain' })).toBe(0);
  });

  it('allows 5 % of enlargement, not more', () => {
    expect(layerForCell(camera, { width: 335, height: 188, fit: 'cover' })).toBe(0);
    expect(layerForCell(camera, { width: 340, height: 192, fit: 'cover' })).toBe(1);
  });

  it('takes the top layer when the size is unknown or no layer is big enough', () => {
    expect(layerForCell({ scales: [4, 2, 1] }, { width: 100, height: 100, fit: 'cover' })).toBe(2);
    expect(layerForCell({ width: 640, height: 360, scales: [4, 2, 1] }, { width: 1280, height: 720, fit: 'cover' })).toBe(2);
    expect(layerForCell({ width: 640, height: 360, scales: [4, 2, 1] }, { width: 200, height: 112, fit: 'cover' })).toBe(1);
  });

  it('has nothing to choose for one layer', () => {
    expect(layerForCell({ width: 640, height: 360, scales: [1] }, { width: 320, height: 180, fit: 'cover' })).toBeUndefined();
    expect(layerForCell({ scales: [] }, { width: 320, height: 180, fit: 'cover' })).toBeUndefined();
  });
});
