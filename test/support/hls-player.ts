import type { Page } from 'playwright-core';
import type { Rgb } from './media-analysis';

/** hls.js in a page and a view of what it shows, for the HLS specs (the page must have loaded hls.min.js). */

/** A playlist's media sequence, its segments' numbers and the part its preload hint names. */
export function readPlaylist(text: string) {
  const mediaSequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1]);
  const segments = [...text.matchAll(/^seg-(\d+)\.m4s$/gm)].map((m) => Number(m[1]));
  const parts = [...text.matchAll(/#EXT-X-PART:DURATION=([\d.]+),URI="part-(\d+)\.(\d+)\.m4s"(,INDEPENDENT=YES)?/g)].map((m) => ({
    duration: Number(m[1]),
    msn: Number(m[2]),
    index: Number(m[3]),
    independent: !!m[4],
  }));
  const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-(\d+)\.(\d+)\.m4s"/.exec(text);
  return { mediaSequence, segments, parts, hint: hint ? { msn: Number(hint[1]), index: Number(hint[2]) } : undefined };
}

export interface PlayerState {
  width: number;
  height: number;
  time: number;
  color?: Rgb;
  latency: number;
  parts: number;
  codecs: string;
  fatal: string[];
  errors: string[];
}

/** Starts hls.js (low-latency mode) on a muted <video> in the page; its codecs and errors are kept on window. */
export async function startPlayer(page: Page, url: string): Promise<void> {
  await page.evaluate((playlist) => {
    const w = globalThis as any;
    const video = w.document.createElement('video');
    video.muted = true;
    w.document.body.appendChild(video);
    const hls = new w.Hls({ lowLatencyMode: true });
    w.codecs = {};
    w.errors = [];
    hls.on(w.Hls.Events.BUFFER_CODECS, (_e: unknown, data: Record<string, unknown>) => Object.assign(w.codecs, data));
    hls.on(w.Hls.Events.ERROR, (_e: unknown, data: { details: string; fatal: boolean }) => w.errors.push(`${data.details}${data.fatal ? ' (fatal)' : ''}`));
    hls.loadSource(playlist);
    hls.attachMedia(video);
    void video.play();
    Object.assign(w, { hls, video });
  }, url);
}

/** What the page's player shows now: size, media time, the mean colour of the picture's middle, hls.js's view. */
export function playerState(page: Page, region?: { x: number; y: number; w: number; h: number }): Promise<PlayerState> {
  return page.evaluate((r) => {
    const w = globalThis as any;
    const { video, hls } = w;
    let color: [number, number, number] | undefined;
    if (video.videoWidth > 0) {
      // The picture at its own size; by default the middle quarter is read.
      const canvas = w.document.createElement('canvas');
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const ctx = canvas.getContext('2d');
      ctx.drawImage(video, 0, 0);
      const area = r ?? { x: video.videoWidth / 4, y: video.videoHeight / 4, w: video.videoWidth / 2, h: video.videoHeight / 2 };
      const { data } = ctx.getImageData(Math.floor(area.x), Math.floor(area.y), Math.max(1, Math.floor(area.w)), Math.max(1, Math.floor(area.h)));
      const sum = [0, 0, 0];
      for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; c += 1) sum[c] += data[i + c];
      color = sum.map((v) => Math.round(v / (data.length / 4))) as [number, number, number];
    }
    return {
      width: video.videoWidth,
      height: video.videoHeight,
      time: video.currentTime,
      color,
      latency: hls.latency,
      parts: hls.levels?.[0]?.details?.partList?.length ?? 0,
      // A muxed fMP4 init gives one audiovideo source buffer whose codec names both.
      codecs: Object.values(w.codecs)
        .map((track: any) => track?.codec)
        .filter(Boolean)
        .join(','),
      fatal: w.errors.filter((e: string) => e.includes('fatal')),
      errors: w.errors.slice(-10),
    };
  }, region);
}

