/**
 * The viewer-side picture probe shared by the E2E tests and the benchmarks: a
 * player that decodes a live stream and stamps every decoded picture with the
 * wall-clock time its data arrived, then says what each picture shows (which
 * participants, by the colour of their cell and the frame counter burned into
 * their source: frame-counter.ts) and whether it differs from the picture
 * before it. Rates and times are taken from these arrivals only, never from
 * timestamps our own encoder wrote: a compositor that repeats its last
 * picture, or an encoder that stalls, shows here as repeated or late pictures.
 *
 * Two ways in:
 *  - `PictureProbe.flv(url)`: HTTP-FLV, as mpegts.js/flv.js players read it.
 *    This process reads the tags as they arrive (recording each video frame's
 *    arrival) and feeds them to an ffmpeg decoder on its stdin; the n-th
 *    decoded picture is the n-th video frame fed. The decoder's own start-up
 *    (stream probing) therefore does not count as the stream's delay.
 *  - `PictureProbe.rtmp(url)`: RTMP, as a player reads it, stamped the same way:
 *    an ffmpeg reads the RTMP and copies its video into FLV on a pipe (no
 *    decode, each packet written at once), this process stamps each tag as it
 *    arrives there and feeds the decoder as above. So the two origins are
 *    measured alike (an RTMP picture's arrival is when its data reached the
 *    player, not when a decoder that also judges the picture handed it over).
 *  - `PictureProbe.direct(url)`: anything ffmpeg reads itself (RTMP, HLS); a
 *    picture's arrival is when the decoder hands it over.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { get, IncomingMessage } from 'node:http';
import { FLV_VIDEO, FlvTagReader, isCodecConfig, isVideoKeyframe } from '@gw/live';
import { cellColor, readCounter, Rect } from './frame-counter';
import { colorNear, Rgb } from './media-analysis';

/** A participant's picture the probe looks for: where it should be and what colour its source is. */
export interface ProbeTile {
  id: string;
  cell: Rect;
  color: Rgb;
  /** Width / height of the participant's source picture (16:9 by default). */
  sourceAspect?: number;
}

/** One FLV reader's progress: whether the decoder was started, the codec config seen, whether any video came. */
interface FlvFeedState {
  started: boolean;
  config: Buffer | undefined;
  received: boolean;
}

export interface ProbeFrame {
  index: number;
  /** Wall-clock arrival of the picture's data at the player (epoch ms). */
  at: number;
  /** When the decoder handed the picture over (epoch ms). */
  decodedAt: number;
  /** Each tile's frame counter, or undefined where it could not be read. */
  counters: Record<string, number | undefined>;
  colors: Record<string, Rgb>;
  /** Tiles whose colour is right and whose counter reads: that participant's picture is on screen. */
  showing: string[];
  /** The picture differs from the one before (a counter moved, or the pixels changed where no counter reads). */
  distinct: boolean;
}

export interface RateStats {
  /** Pictures that arrived in the window. */
  frames: number;
  /** Distinct pictures that arrived in the window. */
  distinct: number;
  /** Distinct pictures per wall-clock second over the window. */
  distinctPerSecond: number;
  /** The fewest distinct pictures in any whole second of the window. */
  minDistinctInASecond: number;
  /** Largest wall-clock gap between two distinct pictures (ms), the window's edges included. */
  maxDistinctGapMs: number;
  /**
   * Where that gap was (ms from the window's start), how many pictures arrived inside it (repeats: the
   * source showed the same picture again; none: nothing arrived), and the counters on either side.
   */
  worstGap: { atMs: number; repeats: number; before?: Record<string, number | undefined>; after?: Record<string, number | undefined> };
}

export interface ProbeOptions {
  /** The size pictures are decoded (scaled) to; tiles are given in this size. */
  width: number;
  height: number;
  tiles?: ProbeTile[];
  /** Colour tolerance per channel (YUV 4:2:0 and a lossy encode on the way). */
  tolerance?: number;
  ffmpegPath?: string;
  /**
   * Keep the latest this many decoded pictures (0 by default), so that tiles
   * learnt after the pictures arrived (a layout read once the mix is up) can
   * be applied to them with `retile`.
   */
  keepPictures?: number;
  /**
   * flv mode: while nothing has arrived yet, ask again every 50 ms for this
   * long when the origin refuses or drops the request (a stream that is not
   * published yet), as a player that retries does. 0 by default.
   */
  retryForMs?: number;
}

/** Tiles are analysed in a stream callback, where a bad one would crash the process: refuse it at the call. */
function checkedTiles(tiles: ProbeTile[]): ProbeTile[] {
  for (const t of tiles) {
    if (!t || !t.cell || !(t.cell.width > 0) || !(t.cell.height > 0) || !Array.isArray(t.color)) throw new Error(`picture probe: bad tile ${JSON.stringify(t)}`);
  }
  return tiles;
}

/** Luma on a coarse grid: what "the pixels changed" is judged on where no counter reads. */
function signature(frame: Buffer, width: number, height: number): Uint8Array {
  const cols = 32;
  const rows = 18;
  const out = new Uint8Array(cols * rows);
  for (let j = 0; j < rows; j++) {
    for (let i = 0; i < cols; i++) {
      const x = Math.floor(((i + 0.5) * width) / cols);
      const y = Math.floor(((j + 0.5) * height) / rows);
      const p = (y * width + x) * 3;
      out[j * cols + i] = (frame[p] + frame[p + 1] + frame[p + 2]) / 3;
    }
  }
  return out;
}

export class PictureProbe {
  readonly frames: ProbeFrame[] = [];
  /** The latest decoded picture (rgb24, width × height), for ad-hoc checks. */
  lastPicture: Buffer | undefined;
  tiles: ProbeTile[];
  readonly #options: Required<Omit<ProbeOptions, 'tiles'>>;
  /** Kept pictures with their arrival times (see ProbeOptions.keepPictures). */
  readonly #kept: { picture: Buffer; at: number; decodedAt: number }[] = [];
  readonly #decoder: ChildProcess;
  /** Arrival times of the video frames fed to the decoder, in order (flv mode). */
  readonly #arrivals: number[] = [];
  readonly #fed: boolean;
  /** rtmp mode: the ffmpeg that copies the RTMP's video into FLV for this process to read. */
  #remuxer: ChildProcess | undefined;
  #previousSignature: Uint8Array | undefined;
  #previousCounters: Record<string, number | undefined> = {};
  #response: IncomingMessage | undefined;
  #request: ReturnType<typeof get> | undefined;
  #closed = false;
  /** Set when the stream or the decoder ended. */
  endedAt: number | undefined;
  error: string | undefined;

  /** A probe reading HTTP-FLV itself (arrival = when the frame's tag arrived). */
  static flv(url: string, options: ProbeOptions): PictureProbe {
    return new PictureProbe(url, options, true);
  }

  /** A probe where ffmpeg reads the URL (RTMP, HLS…; arrival = when the picture is decoded). */
  static direct(url: string, options: ProbeOptions): PictureProbe {
    return new PictureProbe(url, options, false);
  }

  /** A probe reading RTMP through a copying ffmpeg (arrival = when the frame's tag arrived, as flv). */
  static rtmp(url: string, options: ProbeOptions): PictureProbe {
    return new PictureProbe(url, options, true, true);
  }

  private constructor(url: string, options: ProbeOptions, fed: boolean, rtmp = false) {
    this.tiles = checkedTiles(options.tiles ?? []);
    this.#options = {
      width: options.width,
      height: options.height,
      tolerance: options.tolerance ?? 50,
      ffmpegPath: options.ffmpegPath ?? 'ffmpeg',
      keepPictures: options.keepPictures ?? 0,
      retryForMs: options.retryForMs ?? 0,
    };
    this.#fed = fed;
    const { width, height } = this.#options;
    const input = fed
      ? ['-probesize', '32', '-analyzeduration', '0', '-f', 'flv', '-i', 'pipe:0']
      : ['-fflags', 'nobuffer', '-rw_timeout', '15000000', '-i', url];
    this.#decoder = spawn(
      this.#options.ffmpegPath,
      ['-hide_banner', '-v', 'error', ...input, '-an', '-vf', `scale=${width}:${height}:flags=bilinear`, '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
      { stdio: [fed ? 'pipe' : 'ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    this.#decoder.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    this.#decoder.stdin?.on('error', () => undefined);
    this.#decoder.once('exit', () => {
      this.endedAt ??= Date.now();
      if (stderr) this.error = stderr;
    });
    const size = width * height * 3;
    let pending: Buffer = Buffer.alloc(0);
    this.#decoder.stdout!.on('data', (chunk: Buffer) => {
      const decodedAt = Date.now();
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= size) {
        const index = this.frames.length;
        const picture = Buffer.from(pending.subarray(0, size));
        const at = this.#fed ? (this.#arrivals[index] ?? decodedAt) : decodedAt;
        if (this.#options.keepPictures > 0) {
          this.#kept.push({ picture, at, decodedAt });
          if (this.#kept.length > this.#options.keepPictures) this.#kept.shift();
        }
        this.frames.push(this.#analyse(picture, index, at, decodedAt));
        pending = pending.subarray(size);
      }
    });
    if (rtmp) this.#readRtmp(url);
    else if (fed) this.#read(url);
  }

  /** rtmp mode: one reader; a stream that is not there yet is asked again every 50 ms up to retryForMs. */
  #readRtmp(url: string): void {
    const retryUntil = Date.now() + this.#options.retryForMs;
    const state: FlvFeedState = { started: false, config: undefined, received: false };
    const connect = () => {
      if (this.#closed) return;
      const reader = new FlvTagReader();
      const remuxer = spawn(
        this.#options.ffmpegPath,
        ['-hide_banner', '-v', 'error', '-rw_timeout', '15000000', '-i', url, '-map', '0:v:0', '-c', 'copy', '-f', 'flv', '-flush_packets', '1', 'pipe:1'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      this.#remuxer = remuxer;
      let stderr = '';
      remuxer.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
      remuxer.stdout!.on('data', (chunk: Buffer) => this.#onFlv(reader, chunk, state));
      remuxer.once('close', () => {
        if (this.#closed) return;
        if (!state.received && Date.now() < retryUntil) {
          setTimeout(connect, 50);
          return;
        }
        this.error ??= stderr || 'stream closed';
        this.endedAt ??= Date.now();
        this.#decoder.stdin?.end();
      });
    };
    connect();
  }

  /** One chunk of FLV: each video tag's arrival noted and the tag fed to the decoder from the first keyframe on. */
  #onFlv(reader: FlvTagReader, chunk: Buffer, state: FlvFeedState): void {
    const at = Date.now();
    for (const tag of reader.push(chunk)) {
      if (tag.type !== FLV_VIDEO) continue;
      state.received = true;
      if (isCodecConfig(tag)) {
        state.config = tag.raw;
        if (state.started) this.#decoder.stdin!.write(tag.raw);
        continue;
      }
      // End-of-sequence markers carry no picture.
      if (tag.raw[12] === 2) continue;
      if (!state.started) {
        // The decoder starts at the first keyframe after a codec config: frames before it cannot be decoded.
        if (!state.config || !isVideoKeyframe(tag)) continue;
        state.started = true;
        // FLV header with only the video flag, then the config, then frames.
        this.#decoder.stdin!.write(Buffer.from([0x46, 0x4c, 0x56, 1, 1, 0, 0, 0, 9, 0, 0, 0, 0]));
        this.#decoder.stdin!.write(state.config);
      }
      this.#arrivals.push(at);
      this.#decoder.stdin!.write(tag.raw);
    }
  }

  #read(url: string): void {
    const retryUntil = Date.now() + this.#options.retryForMs;
    const state: FlvFeedState = { started: false, config: undefined, received: false };
    const end = (why: string) => {
      if (this.#closed) return;
      if (!state.received && Date.now() < retryUntil) {
        setTimeout(connect, 50);
        return;
      }
      this.error ??= why;
      this.endedAt ??= Date.now();
      this.#decoder.stdin?.end();
    };
    const connect = () => {
      if (this.#closed) return;
      const reader = new FlvTagReader();
      this.#request = get(url, (res) => {
        this.#response = res;
        if (res.statusCode !== 200) {
          res.resume();
          end(`HTTP ${res.statusCode}`);
          return;
        }
        res.on('data', (chunk: Buffer) => this.#onFlv(reader, chunk, state));
        res.on('close', () => end('stream closed'));
      });
      this.#request.on('error', (error) => end(error.message));
    };
    connect();
  }

  #analyse(picture: Buffer, index: number, at: number, decodedAt: number): ProbeFrame {
    const { width, height, tolerance } = this.#options;
    const counters: Record<string, number | undefined> = {};
    const colors: Record<string, Rgb> = {};
    const showing: string[] = [];
    let counterMoved = false;
    let countersRead = false;
    for (const tile of this.tiles) {
      const counter = readCounter(picture, width, height, tile.cell, tile.sourceAspect);
      const color = cellColor(picture, width, tile.cell, tile.sourceAspect);
      counters[tile.id] = counter;
      colors[tile.id] = color;
      if (counter !== undefined && colorNear(color, tile.color, tolerance)) showing.push(tile.id);
      if (counter !== undefined && this.#previousCounters[tile.id] !== undefined) {
        countersRead = true;
        if (counter !== this.#previousCounters[tile.id]) counterMoved = true;
      }
    }
    const sig = signature(picture, width, height);
    let pixelsMoved = true;
    if (this.#previousSignature) {
      let diff = 0;
      for (let i = 0; i < sig.length; i++) diff += Math.abs(sig[i] - this.#previousSignature[i]);
      pixelsMoved = diff / sig.length > 1.5;
    }
    this.#previousSignature = sig;
    this.#previousCounters = counters;
    this.lastPicture = picture;
    return { index, at, decodedAt, counters, colors, showing, distinct: countersRead ? counterMoved : pixelsMoved };
  }

  /**
   * Sets new tiles and analyses the kept pictures again with them (the
   * analysis of pictures no longer kept stays as it was). Pictures arriving
   * afterwards are analysed with the new tiles.
   */
  retile(tiles: ProbeTile[]): void {
    this.tiles = checkedTiles(tiles);
    if (!this.#kept.length) return;
    const first = this.frames.length - this.#kept.length;
    this.#previousSignature = undefined;
    this.#previousCounters = {};
    this.#kept.forEach((k, i) => (this.frames[first + i] = this.#analyse(k.picture, first + i, k.at, k.decodedAt)));
  }

  /** The first picture that arrived at or after `after` showing every one of `ids`. */
  firstShowing(ids: string[], after = 0): ProbeFrame | undefined {
    return this.frames.find((f) => f.at >= after && ids.every((id) => f.showing.includes(id)));
  }

  /** Waits for a picture showing every one of `ids`, arriving at or after `after`. */
  async waitForShowing(ids: string[], options: { after?: number; timeoutMs?: number } = {}): Promise<ProbeFrame> {
    const deadline = Date.now() + (options.timeoutMs ?? 15000);
    for (;;) {
      const frame = this.firstShowing(ids, options.after ?? 0);
      if (frame) return frame;
      if (Date.now() > deadline) throw new Error(`no picture showed ${ids.join(' + ')}: ${this.describe()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits until pictures arrived up to `until` (epoch ms). */
  async waitUntilArrived(until: number, timeoutMs = 15000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.frames.at(-1)?.at ?? 0) < until) {
      if (Date.now() > deadline || this.endedAt !== undefined) throw new Error(`no pictures up to ${new Date(until).toISOString()}: ${this.describe()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Distinct pictures per wall-clock second over [from, to] (epoch ms). */
  rate(from: number, to: number): RateStats {
    const window = this.frames.filter((f) => f.at >= from && f.at <= to);
    const distinct = window.filter((f) => f.distinct);
    const seconds = Math.max(1, Math.floor((to - from) / 1000));
    const perSecond = new Array<number>(seconds).fill(0);
    for (const f of distinct) {
      const bucket = Math.floor((f.at - from) / 1000);
      if (bucket < seconds) perSecond[bucket] += 1;
    }
    let maxGap = 0;
    let previous: ProbeFrame | undefined;
    let worst: { before?: ProbeFrame; after?: ProbeFrame } = {};
    for (const f of distinct) {
      if (f.at - (previous?.at ?? from) > maxGap) [maxGap, worst] = [f.at - (previous?.at ?? from), { before: previous, after: f }];
      previous = f;
    }
    if (to - (previous?.at ?? from) > maxGap) [maxGap, worst] = [to - (previous?.at ?? from), { before: previous }];
    const gapStart = worst.before?.at ?? from;
    const gapEnd = worst.after?.at ?? to;
    return {
      frames: window.length,
      distinct: distinct.length,
      distinctPerSecond: Math.round((distinct.length / ((to - from) / 1000)) * 100) / 100,
      minDistinctInASecond: Math.min(...perSecond),
      maxDistinctGapMs: maxGap,
      worstGap: {
        atMs: gapStart - from,
        repeats: window.filter((f) => f.at > gapStart && f.at < gapEnd).length,
        ...(worst.before ? { before: worst.before.counters } : {}),
        ...(worst.after ? { after: worst.after.counters } : {}),
      },
    };
  }

  /**
   * One tile's own picture rate over [from, to]: a picture counts when that
   * tile's counter reads and differs from the last one it read, so another
   * tile's motion does not hide this one's freeze.
   */
  tileRate(id: string, from: number, to: number): { distinctPerSecond: number; maxGapMs: number; unread: number } {
    let last: number | undefined;
    let lastAt = from;
    let distinct = 0;
    let maxGap = 0;
    let unread = 0;
    for (const f of this.frames) {
      if (f.at > to) break;
      const c = f.counters[id];
      if (f.at < from) {
        if (c !== undefined) last = c;
        continue;
      }
      if (c === undefined) {
        unread += 1;
        continue;
      }
      if (c === last) continue;
      last = c;
      distinct += 1;
      maxGap = Math.max(maxGap, f.at - lastAt);
      lastAt = f.at;
    }
    maxGap = Math.max(maxGap, to - lastAt);
    return { distinctPerSecond: Math.round((distinct / ((to - from) / 1000)) * 100) / 100, maxGapMs: maxGap, unread };
  }

  /** A short account of what the probe saw, for failure messages. */
  describe(): string {
    const last = this.frames.at(-1);
    const colors = last ? Object.fromEntries(Object.entries(last.colors).map(([k, c]) => [k, c.map(Math.round)])) : {};
    return `${this.frames.length} pictures; last shows [${last?.showing.join(', ') ?? ''}], counters ${JSON.stringify(last?.counters ?? {})}, colours ${JSON.stringify(colors)}${this.error ? `; error: ${this.error.trim().slice(-300)}` : ''}`;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#response?.destroy();
    this.#request?.destroy();
    if (this.#remuxer && this.#remuxer.exitCode === null && this.#remuxer.signalCode === null) this.#remuxer.kill('SIGKILL');
    if (this.#decoder.exitCode === null && this.#decoder.signalCode === null) this.#decoder.kill('SIGKILL');
  }
}
