import { get, IncomingMessage } from 'node:http';
import { FLV_VIDEO, FlvTagReader, isCodecConfig } from '@gw/live';

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

/**
 * A viewer: one continuous HTTP-FLV connection, recording when each video
 * frame arrives and its timestamp, to measure switch gaps and timestamp jumps
 * exactly as a player would see them.
 */
export class FlvWatcher {
  readonly frames: { ts: number; at: number }[] = [];
  #closedAt: number | undefined;
  #response: IncomingMessage | undefined;
  readonly #request;

  constructor(url: string) {
    const reader = new FlvTagReader();
    this.#request = get(url, (res) => {
      this.#response = res;
      res.on('data', (chunk: Buffer) => {
        const at = Date.now();
        for (const tag of reader.push(chunk)) if (tag.type === FLV_VIDEO && !isCodecConfig(tag)) this.frames.push({ ts: tag.timestamp, at });
      });
      res.on('close', () => (this.#closedAt ??= Date.now()));
    });
    this.#request.on('error', () => (this.#closedAt ??= Date.now()));
  }

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
    return { frames: window.length, maxGapMs, maxTsStepMs, maxBackwardMs, connectionKept: this.#closedAt === undefined || this.#closedAt > to };
  }

  stop(): void {
    this.#response?.destroy();
    this.#request.destroy();
  }
}
