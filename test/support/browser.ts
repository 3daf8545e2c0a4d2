import { execFileSync } from 'node:child_process';
import type { Page } from 'playwright-core';
import { counterFilters } from '../../bench/support/frame-counter';

export { launchChromium } from '../../bench/support/chromium';

export interface InboundStats {
  kind: string;
  bytesReceived: number;
  framesDecoded?: number;
  packetsReceived: number;
}

/** inbound-rtp stats of the page's receive transport, per consumer, from getStats(). */
export async function inboundStats(page: Page): Promise<{ userId: string; stats: InboundStats[] }[]> {
  return page.evaluate(async () => {
    const client = window.conferenceClient!;
    const out: { userId: string; stats: InboundStats[] }[] = [];
    for (const consumer of client.consumers.values()) {
      const report = await consumer.getStats();
      const stats: InboundStats[] = [];
      report.forEach((s: { type: string; kind: string; bytesReceived: number; framesDecoded?: number; packetsReceived: number }) => {
        if (s.type === 'inbound-rtp') stats.push({ kind: s.kind, bytesReceived: s.bytesReceived, framesDecoded: s.framesDecoded, packetsReceived: s.packetsReceived });
      });
      out.push({ userId: consumer.appData.userId as string, stats });
    }
    return out;
  });
}

/** Sums what a page has received from `userId`, per kind. */
export async function receivedFrom(page: Page, userId: string): Promise<{ audioBytes: number; videoBytes: number; framesDecoded: number }> {
  const all = await inboundStats(page);
  const mine = all.filter((c) => c.userId === userId).flatMap((c) => c.stats);
  return {
    audioBytes: mine.filter((s) => s.kind === 'audio').reduce((a, s) => a + s.bytesReceived, 0),
    videoBytes: mine.filter((s) => s.kind === 'video').reduce((a, s) => a + s.bytesReceived, 0),
    framesDecoded: mine.filter((s) => s.kind === 'video').reduce((a, s) => a + (s.framesDecoded ?? 0), 0),
  };
}

/**
 * Writes a fake camera file for Chromium (`--use-file-for-fake-video-capture`):
 * a solid colour with the frame counter of frame-counter.ts burned in. The file
 * holds exactly 64 frames and a 6-bit counter, so the count wraps where
 * Chromium loops the file and every frame differs from the one before.
 */
export function writeFakeCamera(path: string, color: string, options: { size?: string; fps?: number } = {}): void {
  const { size = '640x360', fps = 25 } = options;
  const [w, h] = size.split('x').map(Number);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=${color}:size=${size}:rate=${fps}`, '-frames:v', '64', '-vf', counterFilters(w, h, 6), '-pix_fmt', 'yuv420p', path]);
}
