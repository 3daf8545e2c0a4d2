import type { Browser, Page } from 'playwright-core';
import type { RunningGateway } from './gateway';

/**
 * Viewer pages of a channel in Chromium, as seed 002's swarm tests and the
 * p2p benchmark drive them: the gateway's own viewer page (`mode=p2p`, or
 * `mode=hls` for origin-only), and what a page shows and has received.
 */
export interface ViewerState {
  /** Media time and how many times playback stalled ('waiting' after it started). */
  time: number;
  stalls: number;
  /** Wall-clock ms when the first frame showing the channel's picture was drawn (the colour asked for), if yet. */
  firstPictureAt?: number;
  width: number;
  height: number;
  color?: [number, number, number];
  swarm?: { bytesFromPeers: number; bytesFromOrigin: number; blocksFromPeers: number; blocksFromOrigin: number; rejectedBlocks: number; bytesToPeers: number; peers: number; s: number; substream: number };
  errors: string[];
  shown: string;
}

export interface ViewerOptions {
  mode?: 'p2p' | 'hls';
  /** The colour the channel shows (RGB), to time the first real picture. */
  expect?: [number, number, number];
  /**
   * A misbehaving peer (a test of the others' defences): every block chunk it
   * sends has bytes flipped, and it sends random garbage messages beside them.
   */
  corrupt?: boolean;
}

/** Opens the viewer page for `token`; it starts playing by itself. */
export async function openViewer(browser: Browser, gw: RunningGateway, channelId: string, token: string, o: ViewerOptions = {}): Promise<Page> {
  const page = await browser.newPage();
  await page.addInitScript((target) => {
    const w = window as unknown as { __viewer: { stalls: number; firstPictureAt?: number; started: boolean } };
    w.__viewer = { stalls: 0, started: false };
    // Watch the <video> the page makes: stalls after playback began, and the first frame in the channel's colour.
    const watch = () => {
      const video = document.querySelector('video');
      if (!video) return void setTimeout(watch, 20);
      video.addEventListener('playing', () => (w.__viewer.started = true));
      video.addEventListener('waiting', () => {
        if (w.__viewer.started) w.__viewer.stalls += 1;
      });
      if (!target) return;
      const canvas = document.createElement('canvas');
      canvas.width = 32;
      canvas.height = 18;
      const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
      const onFrame = () => {
        if (video.videoWidth > 0) {
          ctx.drawImage(video, 0, 0, 32, 18);
          const d = ctx.getImageData(8, 4, 16, 10).data;
          const sum = [0, 0, 0];
          for (let i = 0; i < d.length; i += 4) for (let c = 0; c < 3; c += 1) sum[c] += d[i + c];
          const mean = sum.map((v) => v / (d.length / 4));
          if (mean.every((v, c) => Math.abs(v - target[c]) < 60)) {
            w.__viewer.firstPictureAt = Date.now();
            return;
          }
        }
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    };
    watch();
  }, o.expect ?? null);
  if (o.corrupt) {
    await page.addInitScript(() => {
      const send = RTCDataChannel.prototype.send;
      const flip = (data: Uint8Array) => {
        const out = Uint8Array.from(data);
        // A block chunk (magic, version, type 1): flip bytes in its payload, past the 15-byte header.
        if (out.length > 40 && out[0] === 0xb5 && out[2] === 1) for (let i = 20; i < out.length; i += 997) out[i] ^= 0x5a;
        return out;
      };
      RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: unknown) {
        if (data instanceof Uint8Array) {
          send.call(this, flip(data) as never);
          // And some garbage beside it: random bytes, a truncated header, a lying size.
          const junk = new Uint8Array(1 + Math.floor(Math.random() * 64)).map(() => Math.floor(Math.random() * 256));
          send.call(this, junk as never);
          send.call(this, new Uint8Array([0xb5, 1, 1, 0, 0]) as never);
          send.call(this, 'not a block' as never);
          return;
        }
        send.call(this, data as never);
      } as typeof send;
    });
  }
  await page.goto(`${gw.baseUrl}/#/viewer?channel=${encodeURIComponent(channelId)}&token=${encodeURIComponent(token)}&mode=${o.mode ?? 'p2p'}`);
  return page;
}

export function viewerState(page: Page): Promise<ViewerState> {
  return page.evaluate(() => {
    const w = window as unknown as { __viewer: { stalls: number; firstPictureAt?: number }; viewerPlayer?: { video: HTMLVideoElement; errors: string[]; swarm?: { stats: ViewerState['swarm'] } } };
    const player = w.viewerPlayer;
    const video = player?.video;
    let color: [number, number, number] | undefined;
    if (video && video.videoWidth > 0) {
      const canvas = document.createElement('canvas');
      canvas.width = 64;
      canvas.height = 36;
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(video, 0, 0, 64, 36);
      const { data } = ctx.getImageData(16, 9, 32, 18);
      const sum = [0, 0, 0];
      for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; c += 1) sum[c] += data[i + c];
      color = sum.map((v) => Math.round(v / (data.length / 4))) as [number, number, number];
    }
    return {
      time: video?.currentTime ?? 0,
      stalls: w.__viewer.stalls,
      firstPictureAt: w.__viewer.firstPictureAt,
      width: video?.videoWidth ?? 0,
      height: video?.videoHeight ?? 0,
      color,
      swarm: player?.swarm ? { ...player.swarm.stats! } : undefined,
      errors: player?.errors ?? [],
      shown: document.querySelector('#p2p-stats')?.textContent ?? '',
    };
  });
}

/** The loudest frequency the page's player is playing now (its audio through an analyser), and its level. */
export function playedTone(page: Page): Promise<{ hz: number; db: number }> {
  return page.evaluate(async () => {
    const video = (window as unknown as { viewerPlayer: { video: HTMLVideoElement & { captureStream(): MediaStream } } }).viewerPlayer.video;
    const context = new AudioContext();
    await context.resume();
    const analyser = context.createAnalyser();
    analyser.fftSize = 4096;
    const stream = video.captureStream();
    context.createMediaStreamSource(new MediaStream(stream.getAudioTracks())).connect(analyser);
    await new Promise((resolve) => setTimeout(resolve, 800));
    const bins = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(bins);
    let best = 1;
    for (let i = 2; i < bins.length; i += 1) if (bins[i] > bins[best]) best = i;
    const out = { hz: (best * context.sampleRate) / analyser.fftSize, db: bins[best] };
    await context.close();
    return out;
  });
}
