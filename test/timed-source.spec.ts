import { execFileSync } from 'node:child_process';
import { readCounter } from '../bench/support/frame-counter';
import { colorNear, meanColor } from '../bench/support/media-analysis';
import { countedPicture } from '../bench/support/timed-source';

// The bench source's pictures, converted by a real ffmpeg to RGB, read back by the viewer-side reader.
describe('countedPicture', () => {
  it.each([0, 1, 37, 128, 255])('draws counter %i so that readCounter reads it, on the right colour', (n) => {
    const [w, h] = [320, 180];
    const rgb = execFileSync('ffmpeg', ['-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-video_size', `${w}x${h}`, '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
      input: countedPicture(w, h, [255, 0, 0], n),
    });
    expect(rgb.length).toBe(w * h * 3);
    expect(readCounter(rgb, w, h, { x: 0, y: 0, width: w, height: h })).toBe(n);
    expect(colorNear(meanColor(rgb, w, { x: 100, y: 50, w: 120, h: 50 }), [255, 0, 0])).toBe(true);
  });
});
