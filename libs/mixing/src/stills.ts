import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildStillArgs } from './ffmpeg-args';
import { blankFrame, i420Size, rgbToYuv, YuvFrame } from './yuv-frame';

/**
 * WenQuanYi Micro Hei (Debian's fonts-wqy-microhei) draws CJK names as well as Latin ones; DejaVu
 * Sans, the fallback, shows CJK as boxes.
 */
const FONT = ['/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'].find((f) => existsSync(f)) ?? '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

export interface StillInput {
  width: number;
  height: number;
  color?: string;
  imageUrl?: string;
  text?: string;
  /** Text size in pixels; default an eighth of the shorter side (name cards). */
  fontSize?: number;
}

/**
 * Renders still pictures (canvas background, a participant's name card or
 * image) once with ffmpeg and caches them by what they show. A failed render
 * (bad image URL) falls back to a plain colour, so a mix never waits on it.
 */
export class StillRenderer {
  readonly #cache = new Map<string, Promise<YuvFrame>>();

  constructor(private readonly ffmpegPath: string) {}

  render(input: StillInput): Promise<YuvFrame> {
    const key = JSON.stringify(input);
    let frame = this.#cache.get(key);
    if (!frame) {
      frame = this.#render(input).catch(() => blankFrame(input.width, input.height, rgbToYuv(parseColor(input.color))));
      this.#cache.set(key, frame);
      if (this.#cache.size > 256) this.#cache.delete(this.#cache.keys().next().value!);
    }
    return frame;
  }

  async #render(input: StillInput): Promise<YuvFrame> {
    let dir: string | undefined;
    let textFile: string | undefined;
    if (input.text) {
      // A text file avoids escaping user-provided names inside a filtergraph.
      dir = mkdtempSync(join(tmpdir(), 'gw-still-'));
      textFile = join(dir, 'text.txt');
      writeFileSync(textFile, input.text.slice(0, 64));
    }
    try {
      const args = buildStillArgs({ ...input, color: input.color ? `0x${parseColor(input.color).map((c) => c.toString(16).padStart(2, '0')).join('')}` : undefined, textFile, fontFile: FONT });
      const data = await new Promise<Buffer>((resolve, reject) =>
        execFile(this.ffmpegPath, args, { encoding: 'buffer', maxBuffer: 32 * 1024 * 1024, timeout: 10000 }, (error, stdout) =>
          error ? reject(error) : resolve(stdout),
        ),
      );
      if (data.length !== i420Size(input.width, input.height)) throw new Error('unexpected still size');
      return { width: input.width, height: input.height, data };
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** `#rrggbb`, `rrggbb` or `0xrrggbb` → [r, g, b]; anything else is dark grey. */
export function parseColor(color: string | undefined): [number, number, number] {
  const m = color?.match(/^(?:#|0x)?([0-9a-fA-F]{6})$/);
  if (!m) return [32, 32, 32];
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}
