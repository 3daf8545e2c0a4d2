/// <reference lib="dom" />
/**
 * Reads the frame counter (frame-counter.ts) off a <video> in a real browser,
 * at each frame the browser presents: requestVideoFrameCallback gives the
 * presentation time, the frame is drawn to a canvas and the counter band read
 * there, with the same geometry and thresholds as the Node reader. The page
 * keeps `{at, counter}` (at: epoch ms of presentation) in
 * `window.__counterSeen[key]`. This is the "glass" at the player for the
 * latency benches.
 */
import type { Page } from 'playwright-core';
import { COUNTER_BAND, COUNTER_BITS } from './frame-counter';

export interface SeenFrame {
  at: number;
  counter: number;
}

/** Starts reading the counters of the first <video> matching `selector` under `key`. */
export async function readCountersIn(page: Page, selector: string, key: string): Promise<void> {
  await page.evaluate(
    ({ selector, key, band, bits }) => {
      const w = window as unknown as { __counterSeen?: Record<string, { at: number; counter: number }[]> };
      w.__counterSeen ??= {};
      const seen: { at: number; counter: number }[] = (w.__counterSeen[key] = []);
      const video = document.querySelector(selector) as HTMLVideoElement & {
        requestVideoFrameCallback(cb: (now: number, meta: { presentationTime?: number }) => void): number;
      };
      if (!video) throw new Error(`no video at ${selector}`);
      const canvas = document.createElement('canvas');
      const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
      const onFrame = (now: number, meta: { presentationTime?: number }) => {
        const width = video.videoWidth;
        const height = video.videoHeight;
        if (width > 0 && height > 0) {
          if (canvas.width !== width || canvas.height !== height) {
            canvas.width = width;
            canvas.height = height;
          }
          ctx.drawImage(video, 0, 0, width, height);
          const boxU = (band.x1 - band.x0) / bits;
          let value = 0;
          let ok = true;
          for (let k = 0; k < bits && ok; k++) {
            const x = Math.floor((band.x0 + (k + 0.25) * boxU) * width);
            const y = Math.floor((band.y0 + 0.25 * (band.y1 - band.y0)) * height);
            const bw = Math.max(1, Math.floor(0.5 * boxU * width));
            const bh = Math.max(1, Math.floor(0.5 * (band.y1 - band.y0) * height));
            const data = ctx.getImageData(x, y, bw, bh).data;
            let r = 0;
            let g = 0;
            let b = 0;
            for (let i = 0; i < data.length; i += 4) {
              r += data[i];
              g += data[i + 1];
              b += data[i + 2];
            }
            const n = data.length / 4;
            const [mr, mg, mb] = [r / n, g / n, b / n];
            if (Math.max(mr, mg, mb) < 70) continue;
            if (Math.min(mr, mg, mb) > 180) value |= 1 << k;
            else ok = false;
          }
          if (ok) seen.push({ at: performance.timeOrigin + (meta.presentationTime ?? now), counter: value });
        }
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    },
    { selector, key, band: COUNTER_BAND, bits: COUNTER_BITS },
  );
}

/** What the page has read so far under `key`. */
export async function countersSeen(page: Page, key: string): Promise<SeenFrame[]> {
  return page.evaluate((k) => (window as unknown as { __counterSeen?: Record<string, SeenFrame[]> }).__counterSeen?.[k] ?? [], key);
}
