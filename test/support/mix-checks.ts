import { computeLayout } from '@gw/mixing';
import { colorNear, meanColor, pcmToFloat, Rgb, tonePower } from './media-analysis';
import { grabAudio, grabFrames } from './media';
import { PictureProbe, ProbeTile } from '../../bench/support/picture-probe';

/** Mean colour of a rectangle of the latest of a few decoded frames. */
export async function colorsAt(url: string, width: number, height: number, regions: { x: number; y: number; w: number; h: number }[]): Promise<Rgb[]> {
  const frames = await grabFrames(url, 8, width, height);
  const frame = frames[frames.length - 1];
  return regions.map((r) => meanColor(frame, width, r));
}

/** Polls until every region has its expected colour (the mix takes a moment to settle after a change). */
export async function waitForColors(
  url: string,
  width: number,
  height: number,
  expected: { region: { x: number; y: number; w: number; h: number }; color: Rgb }[],
  timeoutMs = 15000,
): Promise<Rgb[]> {
  const deadline = Date.now() + timeoutMs;
  let last: Rgb[] = [];
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      last = await colorsAt(url, width, height, expected.map((e) => e.region));
      if (last.every((c, i) => colorNear(c, expected[i].color, 50))) return last;
    } catch (error) {
      // stream not readable yet
      lastError = String((error as Error).message).slice(0, 300);
    }
  }
  throw new Error(
    `colours never matched: got ${JSON.stringify(last.map((c) => c.map(Math.round)))}, want ${JSON.stringify(expected.map((e) => e.color))}${lastError ? ` (last error: ${lastError})` : ''}`,
  );
}

/** Relative power of each tone in `seconds` of the stream's audio (share of the summed power). */
export async function tonePowers(url: string, tones: number[], seconds = 1.5): Promise<number[]> {
  const samples = pcmToFloat(await grabAudio(url, seconds));
  // Skip the first 0.3 s: a fresh decoder's first frames can hold the encoder's priming.
  const body = samples.subarray(Math.floor(0.3 * 48000));
  return tones.map((f) => tonePower(body, 48000, f));
}

export const RED: Rgb = [255, 0, 0];
export const BLUE: Rgb = [0, 0, 255];

/**
 * Regions of a float-layout co-hosting mix to check colours in: inside the
 * host's full picture (clear of the guest window), and the middle of the
 * first guest's small window, from the same layout maths the mixer uses.
 */
export function floatRegions(width: number, height: number, hostUserId: string, guestUserId: string) {
  const cell = computeLayout({ spec: { mode: 'float' }, canvas: { width, height }, userIds: [hostUserId, guestUserId], hostUserId }).find((c) => c.userId === guestUserId)!;
  return {
    main: { x: 40, y: 40, w: 200, h: 120 },
    guestWindow: { x: cell.x + 40, y: cell.y + 24, w: cell.width - 80, h: cell.height - 48 },
  };
}

/** Regions to check in a 640x360 side-by-side mix (see sideBySideMix): inside the left and the right half. */
export const SIDE_BY_SIDE = { left: { x: 60, y: 100, w: 200, h: 160 }, right: { x: 380, y: 100, w: 200, h: 160 } };

/** A mix-task body: `left` and `right` side by side on 640x360@15 (custom layout), out to `url`. */
export function sideBySideMix(conferenceId: string, url: string, left: string, right: string): object {
  return {
    conferenceId,
    outputs: [{ url }],
    layout: {
      mode: 'custom',
      cells: [
        { userId: left, x: 0, y: 0, width: 320, height: 360 },
        { userId: right, x: 320, y: 0, width: 320, height: 360 },
      ],
    },
    video: { width: 640, height: 360, fps: 15, bitrateKbps: 800, gopSeconds: 1 },
    audio: { sampleRate: 48000, channels: 2, bitrateKbps: 96 },
  };
}

/** Probe tiles for a mix task's cells (its REST view's `layout.cells`), with each participant's source colour. */
export function tilesOf(cells: { userId: string; x: number; y: number; width: number; height: number }[], colors: Record<string, Rgb>): ProbeTile[] {
  return cells.filter((c) => colors[c.userId]).map((c) => ({ id: c.userId, cell: { x: c.x, y: c.y, width: c.width, height: c.height }, color: colors[c.userId] }));
}

/** A viewer-side picture probe on a channel's HTTP-FLV URL, looking for the given participants in the task's current cells. */
export function probeMix(url: string, width: number, height: number, cells: { userId: string; x: number; y: number; width: number; height: number }[], colors: Record<string, Rgb>): PictureProbe {
  return PictureProbe.flv(url, { width, height, tiles: tilesOf(cells, colors) });
}
