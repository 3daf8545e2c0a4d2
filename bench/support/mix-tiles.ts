/**
 * Probe tiles (picture-probe.ts) for a mix's cells: where each participant's
 * picture is on the probe's decoded picture, and its source colour. Cells
 * come from the mix task's REST view (`GET /api/v1/mix-tasks/:id` →
 * `layout.cells`) or from computeLayout with the same inputs; they are in
 * output pixels, and a `contain` cell shows the source letterboxed inside it,
 * so the tile is the part of the cell the picture actually covers.
 */
import type { ProbeFrame, ProbeTile } from './picture-probe';
import type { Rect } from './frame-counter';
import type { Rgb } from './media-analysis';

export interface MixCell {
  userId: string;
  x: number;
  y: number;
  width: number;
  height: number;
  fit?: 'cover' | 'contain' | 'contain-down';
}

export interface TileScale {
  /** The mix's output size (the cells' coordinates). */
  output: { width: number; height: number };
  /** The size the probe decodes to (its tiles' coordinates). */
  probe: { width: number; height: number };
  /** Width / height of every participant's source (16:9 by default). */
  sourceAspect?: number;
}

/** The rectangle a cell's picture covers on the probe's picture. */
export function shownRect(cell: MixCell, scale: TileScale): Rect {
  const aspect = scale.sourceAspect ?? 16 / 9;
  let { x, y, width, height } = cell;
  if (cell.fit === 'contain') {
    // fitFilter 'contain': scaled down to fit, padded evenly.
    const w = Math.min(width, height * aspect);
    const h = Math.min(height, width / aspect);
    x += (width - w) / 2;
    y += (height - h) / 2;
    width = w;
    height = h;
  }
  const sx = scale.probe.width / scale.output.width;
  const sy = scale.probe.height / scale.output.height;
  return { x: Math.round(x * sx), y: Math.round(y * sy), width: Math.round(width * sx), height: Math.round(height * sy) };
}

/** One tile per cell whose participant has a colour here, named by the participant. */
export function tilesFor(cells: MixCell[], colors: Record<string, Rgb>, scale: TileScale): ProbeTile[] {
  return cells
    .filter((c) => colors[c.userId])
    .map((c) => ({ id: c.userId, cell: shownRect(c, scale), color: colors[c.userId], sourceAspect: scale.sourceAspect }));
}

/**
 * Tiles for a layout whose order of participants may change (a grid follows
 * who joined first, which changes when they rejoin): every participant is
 * looked for in every cell, as `<userId>@<cell index>`. Read with `shows`.
 */
export function anyOrderTiles(cells: MixCell[], colors: Record<string, Rgb>, scale: TileScale): ProbeTile[] {
  return cells.flatMap((c, i) =>
    Object.entries(colors).map(([userId, color]) => ({ id: `${userId}@${i}`, cell: shownRect(c, scale), color, sourceAspect: scale.sourceAspect })),
  );
}

/** Whether a frame shows every one of `userIds` (with tiles from tilesFor or anyOrderTiles). */
export function shows(frame: ProbeFrame, userIds: string[]): boolean {
  return userIds.every((u) => frame.showing.some((id) => id === u || id.startsWith(`${u}@`)));
}

/** The same cells (position and size), whoever is in them. */
export function sameRects(a: MixCell[], b: MixCell[]): boolean {
  const key = (cs: MixCell[]) => cs.map((c) => `${c.x},${c.y},${c.width},${c.height},${c.fit ?? 'cover'}`).sort().join(' ');
  return key(a) === key(b);
}
