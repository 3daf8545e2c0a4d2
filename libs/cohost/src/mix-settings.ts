import type { SourceInfo } from '@gw/live';
import type { OutputSettings } from '@gw/mixing';

const even = (n: number) => Math.round(n / 2) * 2;
const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));

/**
 * The co-hosting mix takes the host's place on air, so it matches the host's
 * own push where that is known (size, frame rate, audio format): viewers'
 * players then see no change of format at the switch, only of picture. Pure.
 */
export function cohostMixSettings(host: SourceInfo): OutputSettings {
  const width = host.width && host.height ? even(clamp(host.width, 320, 1920)) : 1280;
  const height = host.width && host.height ? even(clamp(host.height, 180, 1080)) : 720;
  const fps = host.fps ? clamp(Math.round(host.fps), 10, 30) : 25;
  // About 0.1 bit per pixel per frame, bounded: 640x360@15 → 400 kbps, 1280x720@25 → 2300 kbps.
  const bitrateKbps = clamp(Math.round((width * height * fps * 0.1) / 1000 / 100) * 100, 300, 4000);
  return {
    video: { width, height, fps, bitrateKbps, gopSeconds: 1 },
    audio: { sampleRate: host.sampleRate === 44100 ? 44100 : 48000, channels: host.channels === 1 ? 1 : 2, bitrateKbps: 128 },
  };
}
