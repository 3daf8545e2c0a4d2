/**
 * Layout engine: where each participant's picture sits on the output canvas.
 * Pure. Every rectangle is in output pixels and even-aligned (4:2:0 chroma).
 */
export type LayoutMode = 'grid' | 'float' | 'speaker' | 'presentation' | 'custom';
/** `contain-down`: fit inside without cropping, never enlarged past the source (a screen share's text). */
export type Fit = 'cover' | 'contain' | 'contain-down';

export interface Cell {
  userId: string;
  x: number;
  y: number;
  width: number;
  height: number;
  zOrder: number;
  fit: Fit;
}

export interface LayoutSpec {
  mode: LayoutMode;
  /** For `custom`: the cells as given (clamped to the canvas). */
  cells?: Cell[];
}

export interface LayoutInput {
  spec: LayoutSpec;
  canvas: { width: number; height: number };
  /** Participants in the order they joined. */
  userIds: string[];
  /** Main picture in `float` (default: the first participant). */
  hostUserId?: string;
  /** Main picture in `speaker` (default: the host, then the first participant). */
  activeSpeaker?: string;
  /** Which of `userIds` are screen shares (tile ids; see MixTask): `presentation` puts one large. */
  screens?: string[];
}

const even = (n: number) => Math.max(0, Math.floor(n / 2) * 2);

function rect(userId: string, x: number, y: number, width: number, height: number, zOrder: number, fit: Fit = 'cover'): Cell {
  return { userId, x: even(x), y: even(y), width: Math.max(2, even(width)), height: Math.max(2, even(height)), zOrder, fit };
}

/** Columns × rows for n tiles: 1, 2 side by side, 3–4 in 2×2, 5–6 in 3×2, 7–9 in 3×3. */
export function gridShape(n: number): { cols: number; rows: number } {
  if (n <= 1) return { cols: 1, rows: 1 };
  if (n === 2) return { cols: 2, rows: 1 };
  const cols = Math.ceil(Math.sqrt(n));
  return { cols, rows: Math.ceil(n / cols) };
}

function grid(userIds: string[], width: number, height: number): Cell[] {
  const { cols, rows } = gridShape(userIds.length);
  const cw = width / cols;
  const ch = height / rows;
  return userIds.map((userId, i) => {
    const row = Math.floor(i / cols);
    const inRow = row === rows - 1 ? userIds.length - row * cols : cols;
    // Centre a short last row.
    const offset = ((cols - inRow) * cw) / 2;
    const col = i % cols;
    return rect(userId, offset + col * cw, row * ch, cw, ch, 0);
  });
}

/** Small windows over the main picture: right edge, bottom up. */
function floating(main: string, others: string[], width: number, height: number): Cell[] {
  const w = width / 4;
  const h = height / 4;
  const margin = Math.round(Math.min(width, height) / 40);
  const cells = [rect(main, 0, 0, width, height, 0)];
  others.forEach((userId, i) => {
    const perColumn = Math.max(1, Math.floor((height - margin) / (h + margin)));
    const column = Math.floor(i / perColumn);
    const row = i % perColumn;
    cells.push(rect(userId, width - (column + 1) * (w + margin), height - (row + 1) * (h + margin), w, h, 1 + i));
  });
  return cells;
}

/** The speaker large on top, the others in a strip below. */
function speaker(main: string, others: string[], width: number, height: number): Cell[] {
  if (others.length === 0) return [rect(main, 0, 0, width, height, 0)];
  const stripH = height / 4;
  const cells = [rect(main, 0, 0, width, height - stripH, 0, 'contain')];
  const n = Math.max(4, others.length);
  const w = width / n;
  const start = (width - w * others.length) / 2;
  others.forEach((userId, i) => cells.push(rect(userId, start + i * w, height - stripH, w, stripH, 1)));
  return cells;
}

/**
 * A shared screen large on the left (fit, never cropped or enlarged, on the
 * background), everyone else in a column on the right, a fifth of the width,
 * in 16:9 cells centred top to bottom; two columns past five people. The
 * newest screen is the one shown large (the last in `screens` order).
 */
function presentation(screen: string, others: string[], width: number, height: number): Cell[] {
  if (others.length === 0) return [rect(screen, 0, 0, width, height, 0, 'contain-down')];
  const columns = others.length > 5 ? 2 : 1;
  const stripW = (width / 5) * columns;
  const cellW = stripW / columns;
  const perColumn = Math.ceil(others.length / columns);
  const cellH = Math.min(height / perColumn, (cellW * 9) / 16);
  const cells = [rect(screen, 0, 0, width - stripW, height, 0, 'contain-down')];
  others.forEach((userId, i) => {
    const column = Math.floor(i / perColumn);
    const row = i % perColumn;
    const inColumn = Math.min(perColumn, others.length - column * perColumn);
    const top = (height - inColumn * cellH) / 2;
    cells.push(rect(userId, width - stripW + column * cellW, top + row * cellH, cellW, cellH, 1));
  });
  return cells;
}

export function computeLayout({ spec, canvas, userIds, hostUserId, activeSpeaker, screens = [] }: LayoutInput): Cell[] {
  const { width, height } = canvas;
  switch (spec.mode) {
    case 'custom':
      return (spec.cells ?? []).map((c) => {
        const x = Math.min(Math.max(0, c.x), width - 2);
        const y = Math.min(Math.max(0, c.y), height - 2);
        return rect(c.userId, x, y, Math.min(c.width, width - x), Math.min(c.height, height - y), c.zOrder, c.fit);
      });
    case 'grid':
      return grid(userIds.slice(0, 9), width, height);
    case 'float': {
      const main = hostUserId && userIds.includes(hostUserId) ? hostUserId : userIds[0];
      if (!main) return [];
      return floating(main, userIds.filter((u) => u !== main), width, height);
    }
    case 'presentation': {
      // No screen shared: the grid; a share starts or stops and the layout follows.
      const screen = [...screens].reverse().find((u) => userIds.includes(u));
      if (!screen) return grid(userIds.slice(0, 9), width, height);
      return presentation(screen, userIds.filter((u) => u !== screen).slice(0, 10), width, height);
    }
    case 'speaker': {
      const main = [activeSpeaker, hostUserId, userIds[0]].find((u) => u !== undefined && userIds.includes(u));
      if (!main) return [];
      return speaker(main, userIds.filter((u) => u !== main), width, height);
    }
  }
}
