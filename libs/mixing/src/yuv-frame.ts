/**
 * Planar YUV 4:2:0 frames (I420) and the one operation the compositor needs:
 * copying a picture into a rectangle of the canvas, row by row. Pure; this is
 * plain memory copying (Buffer.copy), not pixel maths, so it is cheap in Node.
 */
export interface YuvFrame {
  width: number;
  height: number;
  /** Y plane, then U, then V (I420). Length width*height*3/2. */
  data: Buffer;
}

export const i420Size = (width: number, height: number) => (width * height * 3) / 2;

export function blankFrame(width: number, height: number, [y, u, v]: [number, number, number] = [16, 128, 128]): YuvFrame {
  const data = Buffer.alloc(i420Size(width, height));
  data.fill(y, 0, width * height);
  data.fill(u, width * height, width * height * 1.25);
  data.fill(v, width * height * 1.25);
  return { width, height, data };
}

/** BT.601 limited range, as ffmpeg's default rgb→yuv420p conversion. */
export function rgbToYuv([r, g, b]: [number, number, number]): [number, number, number] {
  const y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255;
  const u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255;
  const v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255;
  return [Math.round(y), Math.round(u), Math.round(v)];
}

/**
 * Copies `src` into `dst` with its top-left corner at (x, y), clipped to `dst`
 * and to `maxWidth` × `maxHeight`. x, y, sizes are even.
 */
export function blit(dst: YuvFrame, src: YuvFrame, x: number, y: number, maxWidth = src.width, maxHeight = src.height): void {
  const w = Math.min(src.width, maxWidth, dst.width - x);
  const h = Math.min(src.height, maxHeight, dst.height - y);
  if (w <= 0 || h <= 0) return;
  const dY = dst.data;
  const sY = src.data;
  for (let row = 0; row < h; row++) {
    const s = row * src.width;
    sY.copy(dY, (y + row) * dst.width + x, s, s + w);
  }
  const dstLuma = dst.width * dst.height;
  const srcLuma = src.width * src.height;
  const dcw = dst.width / 2;
  const scw = src.width / 2;
  const cw = w / 2;
  const ch = h / 2;
  for (const plane of [0, 1]) {
    const dBase = dstLuma + plane * (dstLuma / 4);
    const sBase = srcLuma + plane * (srcLuma / 4);
    for (let row = 0; row < ch; row++) {
      const s = sBase + row * scw;
      sY.copy(dY, dBase + (y / 2 + row) * dcw + x / 2, s, s + cw);
    }
  }
}

/** Mean Y, U, V of a rectangle (tests and diagnostics). */
export function meanYuv(frame: YuvFrame, x: number, y: number, w: number, h: number): [number, number, number] {
  let sy = 0;
  let su = 0;
  let sv = 0;
  const luma = frame.width * frame.height;
  for (let r = y; r < y + h; r++) for (let c = x; c < x + w; c++) sy += frame.data[r * frame.width + c];
  for (let r = y / 2; r < (y + h) / 2; r++) {
    for (let c = x / 2; c < (x + w) / 2; c++) {
      su += frame.data[luma + r * (frame.width / 2) + c];
      sv += frame.data[luma * 1.25 + r * (frame.width / 2) + c];
    }
  }
  return [sy / (w * h), su / ((w * h) / 4), sv / ((w * h) / 4)];
}
