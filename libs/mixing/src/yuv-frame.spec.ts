import { blankFrame, blit, meanYuv, rgbToYuv } from './yuv-frame';

describe('yuv frames', () => {
  it('converts primaries like ffmpeg (BT.601 limited)', () => {
    expect(rgbToYuv([255, 0, 0])).toEqual([81, 90, 240]);
    expect(rgbToYuv([0, 255, 0])).toEqual([145, 54, 34]);
    expect(rgbToYuv([0, 0, 255])).toEqual([41, 240, 110]);
  });

  it('blits a picture into a rectangle and leaves the rest alone', () => {
    const canvas = blankFrame(64, 32, [16, 128, 128]);
    const red = blankFrame(16, 8, rgbToYuv([255, 0, 0]));
    blit(canvas, red, 32, 16);
    expect(meanYuv(canvas, 32, 16, 16, 8)).toEqual([81, 90, 240]);
    expect(meanYuv(canvas, 0, 0, 32, 16)).toEqual([16, 128, 128]);
    expect(meanYuv(canvas, 48, 16, 16, 16)).toEqual([16, 128, 128]);
  });

  it('clips at the canvas edge and at a smaller cell', () => {
    const canvas = blankFrame(32, 32);
    const blue = blankFrame(32, 32, rgbToYuv([0, 0, 255]));
    blit(canvas, blue, 24, 24);
    expect(meanYuv(canvas, 24, 24, 8, 8)).toEqual([41, 240, 110]);
    const canvas2 = blankFrame(32, 32);
    blit(canvas2, blue, 0, 0, 8, 8);
    expect(meanYuv(canvas2, 0, 0, 8, 8)).toEqual([41, 240, 110]);
    expect(meanYuv(canvas2, 8, 0, 8, 8)).toEqual([16, 128, 128]);
  });
});
