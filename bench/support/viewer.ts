import { spawn } from 'node:child_process';
import { get, IncomingMessage } from 'node:http';
import { FLV_VIDEO, FlvTag, FlvTagReader, isCodecConfig } from '@gw/live';

export interface WatchStats {
  frames: number;
  /** Largest wall-clock gap between two video frames arriving (ms). */
  maxGapMs: number;
  /** Largest step between consecutive video timestamps (ms). */
  maxTsStepMs: number;
  /** Most negative step between consecutive video timestamps (ms; 0 if none went back). */
  maxBackwardMs: number;
  /** The HTTP-FLV connection stayed open the whole time. */
  connectionKept: boolean;
}

/** What a continuously connected player saw: video frames (timestamp, arrival) and when new codec configs arrived. */
abstract class Viewer {
  readonly frames: { ts: number; at: number }[] = [];
  /** Arrival times of video codec configs (a new one marks a splice to another source). */
  readonly configsAt: number[] = [];
  protected closedAt: number | undefined;

  /** Stats over frames that arrived in [from, to] (epoch ms), with the frame just before `from` included. */
  stats(from = 0, to = Date.now()): WatchStats {
    const first = Math.max(0, this.frames.findIndex((f) => f.at >= from) - 1);
    const window = this.frames.slice(first).filter((f) => f.at <= to);
    let maxGapMs = 0;
    let maxTsStepMs = 0;
    let maxBackwardMs = 0;
    for (let i = 1; i < window.length; i += 1) {
      maxGapMs = Math.max(maxGapMs, window[i].at - window[i - 1].at);
      const step = window[i].ts - window[i - 1].ts;
      maxTsStepMs = Math.max(maxTsStepMs, step);
      maxBackwardMs = Math.min(maxBackwardMs, step);
    }
    return { frames: window.length, maxGapMs, maxTsStepMs, maxBackwardMs, connectionKept: this.closedAt === undefined || this.closedAt > to };
  }

  abstract stop(): void;
}

/**
 * A viewer on HTTP-FLV (what mpegts.js/flv.js players use): one connection,
 * every tag parsed as it arrives.
 */
export class FlvWatcher extends Viewer {
  #response: IncomingMessage | undefined;
  readonly #request;

  constructor(url: string) {
    super();
    const reader = new FlvTagReader();
    this.#request = get(url, (res) => {
      this.#response = res;
      res.on('data', (chunk: Buffer) => {
        const at = Date.now();
        for (const tag of reader.push(chunk)) {
          if (tag.type !== FLV_VIDEO) continue;
          if (isCodecConfig(tag)) this.configsAt.push(at);
          else this.frames.push({ ts: tag.timestamp, at });
        }
      });
      res.on('close', () => (this.closedAt ??= Date.now()));
    });
    this.#request.on('error', () => (this.closedAt ??= Date.now()));
  }

  stop(): void {
    this.#response?.destroy();
    this.#request.destroy();
  }
}

/**
 * A viewer on RTMP (origins without HTTP-FLV, e.g. nginx-rtmp): ffprobe prints
 * each video packet's raw demuxed timestamp as it is read (line-buffered via
 * stdbuf), and flags packets that carry a new codec config.
 */
export class RtmpWatcher extends Viewer {
  readonly #child;

  constructor(url: string) {
    super();
    this.#child = spawn(
      'stdbuf',
      ['-oL', 'ffprobe', '-v', 'error', '-rw_timeout', '15000000', '-select_streams', 'v', '-show_entries', 'packet=dts:packet_side_data=side_data_type', '-of', 'csv=p=0', url],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let pending = '';
    this.#child.stdout.on('data', (chunk: Buffer) => {
      const at = Date.now();
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [dts, side] = line.split(',');
        if (!/^-?\d+$/.test(dts)) continue;
        if (side && /extradata/i.test(side)) this.configsAt.push(at);
        this.frames.push({ ts: Number(dts), at });
      }
    });
    this.#child.once('exit', () => (this.closedAt ??= Date.now()));
  }

  stop(): void {
    if (this.#child.exitCode === null) this.#child.kill('SIGTERM');
  }
}

/** Reads an HTTP-FLV stream like a player and reports each tag as it arrives. */
export function readFlv(url: string, onTag: (tag: FlvTag) => void): { close: () => void } {
  const reader = new FlvTagReader();
  const req = get(url, (res) => res.on('data', (chunk: Buffer) => reader.push(chunk).forEach(onTag)));
  req.on('error', () => undefined);
  return { close: () => req.destroy() };
}
