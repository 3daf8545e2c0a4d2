/**
 * Overlays of a mix task: pictures drawn over every cell (a logo, a banner, a
 * score bar), each a rectangle of the canvas filled with a solid colour, an
 * image or a line of text on a colour. They are set as a whole and may be
 * replaced at any time while the task runs; the outputs never restart. Pure.
 */
export interface OverlaySpec {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Fill (`#rrggbb`); the background of an image's letterbox or of the text. Default dark grey. */
  color?: string;
  /** An image scaled to cover the rectangle. */
  imageUrl?: string;
  /** One line of white text, centred (at most 64 characters are drawn). */
  text?: string;
}

/** An overlay placed on the canvas: even-aligned (4:2:0 chroma), inside it, at least 2×2. */
export type PlacedOverlay = OverlaySpec;

export const MAX_OVERLAYS = 16;

const even = (n: number) => Math.max(0, Math.floor(n / 2) * 2);

/**
 * Where each overlay lands: clamped to the canvas and even-aligned. An
 * overlay wholly outside the canvas (or under 2×2 once clipped) is dropped.
 * Later overlays are drawn over earlier ones.
 */
export function placeOverlays(overlays: OverlaySpec[], canvas: { width: number; height: number }): PlacedOverlay[] {
  const out: PlacedOverlay[] = [];
  for (const o of overlays.slice(0, MAX_OVERLAYS)) {
    const x = even(Math.max(0, o.x));
    const y = even(Math.max(0, o.y));
    const width = even(Math.min(o.x + o.width, canvas.width) - x);
    const height = even(Math.min(o.y + o.height, canvas.height) - y);
    if (width < 2 || height < 2) continue;
    out.push({ ...o, x, y, width, height });
  }
  return out;
}
