/**
 * A test source whose every frame's send time is known: Node draws each
 * picture (a solid colour with the frame counter of frame-counter.ts) and
 * writes it into ffmpeg's stdin at the frame rate, noting the wall-clock time
 * it let go of it, and the tone's PCM into fd 3 on the same clock; ffmpeg
 * encodes them (x264 zerolatency, 1 s GOP) and pushes RTMP.
 *
 * Both inputs come from Node, paced alike: with the tone from ffmpeg's own
 * `-re` source (as before), the pictures Node wrote while ffmpeg started (0.3
 * to 1 s) stayed queued behind the real-time audio for the whole run, so every
 * figure carried that start-up time (WHEP measured 408 ms in one run, 1.2 s in
 * another, with FLV as late). A viewer that reads counter `c` at time `t`
 * saw the frame sent at `sentAt(c, t)`: glass-to-glass latency is `t` minus
 * that, encoder and push included, with nothing taken from our own
 * encoder's timestamps.
 */
import { ChildProcess, spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { COUNTER_BAND, COUNTER_BITS } from './frame-counter';
import { stopChild } from './sources';

const RATE = 48000;

export interface TimedSourceOptions {
  /** [r, g, b] 0..255 of the picture. */
  rgb: [number, number, number];
  toneHz?: number;
  width?: number;
  height?: number;
  fps?: number;
}

/** BT.601 limited-range YUV of an RGB colour (what ffmpeg's color source gives). */
function yuv([r, g, b]: [number, number, number]): [number, number, number] {
  const y = 16 + (65.738 * r + 129.057 * g + 25.064 * b) / 256;
  const u = 128 + (-37.945 * r - 74.494 * g + 112.439 * b) / 256;
  const v = 128 + (112.439 * r - 94.154 * g - 18.285 * b) / 256;
  return [Math.round(y), Math.round(u), Math.round(v)];
}

/** An I420 picture of `rgb` with counter `n` (modulo 2^COUNTER_BITS) drawn as frame-counter.ts reads it. Pure. */
export function countedPicture(width: number, height: number, rgb: [number, number, number], n: number): Buffer {
  const [y, u, v] = yuv(rgb);
  const frame = Buffer.alloc((width * height * 3) / 2);
  frame.fill(y, 0, width * height);
  frame.fill(u, width * height, (width * height * 5) / 4);
  frame.fill(v, (width * height * 5) / 4);
  const x0 = Math.round(width * COUNTER_BAND.x0);
  const y0 = Math.round(height * COUNTER_BAND.y0);
  const bandW = Math.round(width * (COUNTER_BAND.x1 - COUNTER_BAND.x0));
  const bandH = Math.round(height * (COUNTER_BAND.y1 - COUNTER_BAND.y0));
  const boxW = bandW / COUNTER_BITS;
  for (let row = y0; row < y0 + bandH; row++) {
    for (let col = x0; col < x0 + bandW; col++) {
      const bit = Math.min(COUNTER_BITS - 1, Math.floor((col - x0) / boxW));
      frame[row * width + col] = (n >> bit) & 1 ? 235 : 16;
    }
  }
  // Neutral chroma in the band: black and white, not tinted by the picture's colour.
  const cw = width / 2;
  for (let row = Math.floor(y0 / 2); row < Math.ceil((y0 + bandH) / 2); row++) {
    for (let col = Math.floor(x0 / 2); col < Math.ceil((x0 + bandW) / 2); col++) {
      frame[width * height + row * cw + col] = 128;
      frame[(width * height * 5) / 4 + row * cw + col] = 128;
    }
  }
  return frame;
}

export class TimedSource {
  readonly #sent: number[] = [];
  readonly #child: ChildProcess;
  readonly #timer: NodeJS.Timeout;
  #n = 0;
  #samples = 0;
  readonly #audio: Writable;
  readonly #startedAt = Date.now();

  constructor(url: string, private readonly o: TimedSourceOptions) {
    const { width = 640, height = 360, fps = 25, toneHz = 440 } = o;
    this.#child = spawn(
      'ffmpeg',
      [
        '-hide_banner', '-loglevel', 'error',
        '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-video_size', `${width}x${height}`, '-framerate', String(fps), '-i', 'pipe:0',
        '-f', 's16le', '-ar', String(RATE), '-ac', '1', '-i', 'pipe:3',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(fps), '-pix_fmt', 'yuv420p',
        '-c:a', 'aac', '-b:a', '96k', '-f', 'flv', '-flush_packets', '1', url,
      ],
      { stdio: ['pipe', 'ignore', 'ignore', 'pipe'] },
    );
    this.#child.stdin!.on('error', () => undefined);
    const audio = this.#child.stdio[3] as Writable;
    audio.on('error', () => undefined);
    this.#audio = audio;
    const pictures = Array.from({ length: 2 ** COUNTER_BITS }, (_, n) => countedPicture(width, height, o.rgb, n));
    // Paced by the wall clock, not by the timer's drift: each tick writes the frames that are due.
    this.#timer = setInterval(() => {
      const due = Math.floor(((Date.now() - this.#startedAt) * fps) / 1000);
      while (this.#n <= due) {
        this.#child.stdin!.write(pictures[this.#n % pictures.length]);
        this.#sent[this.#n] = Date.now();
        this.#n += 1;
      }
      const samplesDue = Math.floor(((Date.now() - this.#startedAt) * RATE) / 1000);
      if (samplesDue > this.#samples) {
        const pcm = Buffer.alloc((samplesDue - this.#samples) * 2);
        for (let i = 0; this.#samples < samplesDue; i += 1, this.#samples += 1) pcm.writeInt16LE(Math.round(4096 * Math.sin((2 * Math.PI * toneHz * this.#samples) / RATE)), i * 2);
        this.#audio.write(pcm);
      }
    }, 5);
  }

  /** When the frame with counter `counter` that a viewer saw at `seenAt` was sent (the latest such before it). */
  sentAt(counter: number, seenAt: number): number | undefined {
    const wrap = 2 ** COUNTER_BITS;
    for (let n = this.#n - 1 - ((this.#n - 1 - counter) % wrap + wrap) % wrap; n >= 0; n -= wrap) {
      const at = this.#sent[n];
      if (at !== undefined && at <= seenAt) return at;
    }
    return undefined;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#child.stdin!.end();
    this.#audio.end();
    await stopChild(this.#child);
  }
}
