import type { Cell, OverlaySpec } from '@gw/mixing';

/**
 * What each channel of a PK shows: its own host on the left half, the other
 * host on the right half, and during a battle a score bar with the time left
 * over the top of both. Pure: the mix tasks get these as a custom layout and
 * as overlays (a general mix-task feature); nothing here knows about mixing
 * processes.
 */

const even = (n: number) => Math.max(0, Math.floor(n / 2) * 2);

/**
 * Two halves of the channel's canvas: `own` on the left, `other` on the
 * right, both cropped to fill (cover). The channel's own guests on mic, if
 * any, are small windows in a column down the outer edge of its own half,
 * below the score bar, over its host (clear of the middle of the host's
 * picture); past three a second column starts.
 */
export function pkCells(canvas: { width: number; height: number }, own: string, other: string, guests: string[] = []): Cell[] {
  const half = even(canvas.width / 2);
  const cells: Cell[] = [
    { userId: own, x: 0, y: 0, width: half, height: canvas.height, zOrder: 0, fit: 'cover' },
    { userId: other, x: half, y: 0, width: canvas.width - half, height: canvas.height, zOrder: 0, fit: 'cover' },
  ];
  const margin = Math.max(2, even(half / 40));
  const width = even(half * 0.26);
  const height = even((width * 3) / 4);
  const top = even(canvas.height / 6) + margin;
  const rows = Math.max(1, Math.min(3, Math.floor((canvas.height - top) / (height + margin))));
  guests.forEach((userId, i) => {
    const column = Math.floor(i / rows);
    const row = i % rows;
    cells.push({ userId, x: margin + column * (width + margin), y: top + row * (height + margin), width, height, zOrder: 1, fit: 'cover' });
  });
  return cells;
}

/** The bar's colours: the channel's own side, and the other side. */
export const PK_OWN_COLOR = '#e8336b';
export const PK_OTHER_COLOR = '#2f7df6';
const TIMER_COLOR = '#000000';

/** `m:ss` of what is left, rounded up (a countdown shows 0:01 until the very end). */
export function formatTimeLeft(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Geometry of the score bar on a canvas (exported for tests that look at the picture). */
export function scoreBarGeometry(canvas: { width: number; height: number }) {
  const margin = even(canvas.width / 32);
  const y = even(canvas.height / 24);
  const height = Math.max(12, even(canvas.height / 14));
  const width = canvas.width - 2 * margin;
  const labelWidth = even(height * 3);
  const timer = { x: even((canvas.width - even(canvas.width / 6)) / 2), y: y + height + even(canvas.height / 90), width: even(canvas.width / 6), height };
  return { x: margin, y, width, height, labelWidth, timer };
}

/**
 * The battle overlays for one channel's picture: the bar split by the two
 * scores (its own colour from the left, in proportion to its score; half and
 * half at 0:0), each score written at its end of the bar when its part is
 * wide enough to hold it, and the time left below the middle. The bar sits
 * in the top sixth, clear of the middle of the hosts' pictures.
 */
export function battleOverlays(
  canvas: { width: number; height: number },
  battle: { own: number; other: number; endsAt: number },
  now: number,
): OverlaySpec[] {
  const g = scoreBarGeometry(canvas);
  const total = battle.own + battle.other;
  const share = total === 0 ? 0.5 : battle.own / total;
  const ownWidth = even(g.width * share);
  const otherWidth = g.width - ownWidth;
  const out: OverlaySpec[] = [];
  if (ownWidth >= 2) out.push({ x: g.x, y: g.y, width: ownWidth, height: g.height, color: PK_OWN_COLOR });
  if (otherWidth >= 2) out.push({ x: g.x + ownWidth, y: g.y, width: otherWidth, height: g.height, color: PK_OTHER_COLOR });
  if (ownWidth >= g.labelWidth) out.push({ x: g.x, y: g.y, width: g.labelWidth, height: g.height, color: PK_OWN_COLOR, text: String(battle.own) });
  if (otherWidth >= g.labelWidth) {
    out.push({ x: g.x + g.width - g.labelWidth, y: g.y, width: g.labelWidth, height: g.height, color: PK_OTHER_COLOR, text: String(battle.other) });
  }
  out.push({ ...g.timer, color: TIMER_COLOR, text: formatTimeLeft(battle.endsAt - now) });
  return out;
}
