/**
 * Name labels on camera tiles: where a participant's display name goes in its
 * cell and how large. A dark box at the cell's bottom-left, its text size
 * about a twelfth of the cell's height (at least 12 px, at most 32 px), as
 * wide as the name needs (CJK and other wide characters count a full em,
 * others about 0.6 em) and never wider than the cell. Pure.
 */
export interface LabelBox {
  x: number;
  y: number;
  width: number;
  height: number;
  fontSize: number;
}

/** Display names are drawn up to this many characters. */
export const MAX_LABEL_CHARS = 32;

const even = (n: number) => Math.max(0, Math.floor(n / 2) * 2);

/** East Asian wide characters and emoji take a full em; most others about 0.6. */
function ems(text: string): number {
  let n = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    n += c >= 0x1100 && (c <= 0x115f || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) || c >= 0x1f300) ? 1 : 0.6;
  }
  return n;
}

/** The label's box for `name` in `cell`, or undefined when the cell is too small to carry one. */
export function labelBox(cell: { x: number; y: number; width: number; height: number }, name: string): LabelBox | undefined {
  const text = [...name].slice(0, MAX_LABEL_CHARS).join('');
  if (!text.trim()) return undefined;
  const fontSize = Math.max(12, Math.min(32, Math.round(cell.height / 12)));
  const height = even(fontSize * 1.5);
  const margin = even(Math.max(2, fontSize / 3));
  if (cell.width - 2 * margin < 2 * fontSize || height + 2 * margin > cell.height) return undefined;
  // At least two ems wide, so that a one-letter name is a label and not a speck.
  const width = even(Math.min(cell.width - 2 * margin, Math.max(2 * fontSize, ems(text) * fontSize + fontSize)));
  return { x: even(cell.x + margin), y: even(cell.y + cell.height - margin - height), width, height, fontSize };
}
