/**
 * A frame counter burned into every test source, so that a viewer-side probe
 * can tell each decoded picture of each participant apart (a repeated or
 * frozen picture shows the same number twice) without trusting any timestamp
 * our own encoder wrote. Pure: geometry, the ffmpeg filters that draw the
 * counter, and the reader.
 *
 * The counter is a band of COUNTER_BITS boxes low in the middle of the
 * picture (x 30–70 %, y 78–92 % of the source): black for 0, white for 1,
 * bit 0 on the left. It sits in the middle horizontally so that a cover fit
 * (scale up, crop the sides) into a tall cell keeps it, and below the regions
 * the colour checks read.
 */
import { meanColor, Rgb } from './media-analysis';

export const COUNTER_BITS = 8;
/** The counter band as fractions of the source picture. */
export const COUNTER_BAND = { x0: 0.3, x1: 0.7, y0: 0.78, y1: 0.92 } as const;

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * ffmpeg filters (for -vf, after the source) that draw the counter of frame
 * `n` modulo 2^bits. A source file that loops (a fake camera file) should hold
 * exactly 2^bits frames so that the count wraps where the file does.
 */
export function counterFilters(width: number, height: number, bits = COUNTER_BITS): string {
  const bandX = Math.round(width * COUNTER_BAND.x0);
  const bandY = Math.round(height * COUNTER_BAND.y0);
  const bandW = Math.round(width * (COUNTER_BAND.x1 - COUNTER_BAND.x0));
  const bandH = Math.round(height * (COUNTER_BAND.y1 - COUNTER_BAND.y0));
  const boxW = bandW / COUNTER_BITS;
  const filters = [`drawbox=x=${bandX}:y=${bandY}:w=${bandW}:h=${bandH}:color=black:t=fill`];
  for (let k = 0; k < bits; k++) {
    filters.push(`drawbox=x=${Math.round(bandX + k * boxW)}:y=${bandY}:w=${Math.round(boxW)}:h=${bandH}:color=white:t=fill:enable='mod(floor(n/${2 ** k}),2)'`);
  }
  return filters.join(',');
}

/**
 * Where a point of the source (fractions u, v) lands in a cell, for the
 * mixer's cover fit: scaled to fill the cell, the overflow cropped evenly
 * (libs/mixing fitFilter).
 */
export function coverPoint(cell: Rect, sourceAspect: number, u: number, v: number): { x: number; y: number } {
  const scale = Math.max(cell.width / sourceAspect, cell.height);
  const shownW = scale * sourceAspect;
  const shownH = scale;
  return { x: cell.x + (cell.width - shownW) / 2 + u * shownW, y: cell.y + (cell.height - shownH) / 2 + v * shownH };
}

/**
 * Reads the counter of the source shown in `cell` of an rgb24 frame. Returns
 * undefined when the band is not there (a placeholder, the background,
 * another picture, a cell too small to read): every bit box must be clearly
 * black or clearly white.
 */
export function readCounter(frame: Buffer, frameWidth: number, frameHeight: number, cell: Rect, sourceAspect = 16 / 9): number | undefined {
  const boxU = (COUNTER_BAND.x1 - COUNTER_BAND.x0) / COUNTER_BITS;
  let value = 0;
  for (let k = 0; k < COUNTER_BITS; k++) {
    // The middle half of each box, clear of the blur at its edges.
    const a = coverPoint(cell, sourceAspect, COUNTER_BAND.x0 + (k + 0.25) * boxU, COUNTER_BAND.y0 + 0.25 * (COUNTER_BAND.y1 - COUNTER_BAND.y0));
    const b = coverPoint(cell, sourceAspect, COUNTER_BAND.x0 + (k + 0.75) * boxU, COUNTER_BAND.y0 + 0.75 * (COUNTER_BAND.y1 - COUNTER_BAND.y0));
    const region = { x: Math.floor(a.x), y: Math.floor(a.y), w: Math.max(1, Math.floor(b.x - a.x)), h: Math.max(1, Math.floor(b.y - a.y)) };
    if (region.x < 0 || region.y < 0 || region.x + region.w > frameWidth || region.y + region.h > frameHeight) return undefined;
    const [r, g, bl] = meanColor(frame, frameWidth, region);
    // Every channel must agree: a coloured picture (red: 255, 0, 0) is neither black nor white.
    if (Math.max(r, g, bl) < 70) continue;
    if (Math.min(r, g, bl) > 180) value |= 1 << k;
    else return undefined;
  }
  return value;
}

/**
 * A region well inside the picture shown in `cell`, clear of the counter band
 * and of the cell's edges, where a source's colour can be read.
 */
export function colorRegion(cell: Rect, sourceAspect = 16 / 9): { x: number; y: number; w: number; h: number } {
  const a = coverPoint(cell, sourceAspect, 0.5, 0.5);
  const w = Math.max(2, Math.floor(cell.width * 0.4));
  const h = Math.max(2, Math.floor(cell.height * 0.3));
  // Centred horizontally on the cell; vertically between 30 % and 60 % of what is shown.
  const top = coverPoint(cell, sourceAspect, 0.5, 0.3).y;
  return { x: Math.floor(Math.max(cell.x, a.x - w / 2)), y: Math.floor(Math.max(cell.y, top)), w, h: Math.min(h, Math.floor(coverPoint(cell, sourceAspect, 0.5, 0.6).y - top)) };
}

/** Mean colour of the picture in a cell (see colorRegion). */
export function cellColor(frame: Buffer, frameWidth: number, cell: Rect, sourceAspect = 16 / 9): Rgb {
  return meanColor(frame, frameWidth, colorRegion(cell, sourceAspect));
}
