/**
 * A listener at a viewer: ffmpeg reads a channel's URL and decodes its audio
 * (mono, 48 kHz, s16le on stdout; its probe waits up to 1 s for the audio stream, which
 * FLV announces only with its first packet), and every 50 ms block is stamped with the
 * wall-clock arrival of its last byte and the power of each tone asked for
 * (Goertzel). What a player hears and when, not what our encoder wrote.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { tonePower } from './media-analysis';

const RATE = 48000;
const BLOCK = RATE / 20; // 50 ms

export interface ToneBlock {
  /** Wall-clock ms when the block's last sample arrived. */
  at: number;
  /** Power of each tone asked for, by frequency. */
  power: Record<number, number>;
}

export class ToneProbe {
  readonly blocks: ToneBlock[] = [];
  readonly #child: ChildProcess;
  #pending = Buffer.alloc(0);
  #stderr = '';

  constructor(url: string, readonly frequencies: number[]) {
    this.#child = spawn(
      'ffmpeg',
      ['-hide_banner', '-loglevel', 'error', '-fflags', 'nobuffer', '-probesize', '500000', '-analyzeduration', '1000000', '-rw_timeout', '10000000', '-i', url, '-vn', '-ac', '1', '-ar', String(RATE), '-f', 's16le', '-flush_packets', '1', 'pipe:1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child.stderr!.on('data', (d) => (this.#stderr = (this.#stderr + d).slice(-2000)));
    this.#child.stdout!.on('data', (chunk: Buffer) => {
      const at = Date.now();
      this.#pending = Buffer.concat([this.#pending, chunk]);
      while (this.#pending.length >= BLOCK * 2) {
        const samples = new Float32Array(BLOCK);
        for (let i = 0; i < BLOCK; i++) samples[i] = this.#pending.readInt16LE(i * 2) / 32768;
        this.#pending = this.#pending.subarray(BLOCK * 2);
        const power: Record<number, number> = {};
        for (const f of this.frequencies) power[f] = tonePower(samples, RATE, f);
        this.blocks.push({ at, power });
      }
    });
  }

  /** Median power of `frequency` over the blocks that arrived in [from, to]. */
  median(frequency: number, from: number, to: number): number {
    const xs = this.blocks.filter((b) => b.at >= from && b.at <= to).map((b) => b.power[frequency]).sort((a, b) => a - b);
    return xs.length ? xs[Math.floor(xs.length / 2)] : NaN;
  }

  /**
   * The arrival of the first block after `after` from which `frequency` stays
   * `loud` (true: at least `threshold`, false: under it) for `holdMs`; waits for it up to `timeoutMs`.
   */
  async waitForLevel(frequency: number, loud: boolean, threshold: number, after: number, holdMs = 300, timeoutMs = 10000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const window = this.blocks.filter((b) => b.at > after);
      for (let i = 0; i < window.length; i++) {
        const ok = (b: ToneBlock) => (b.power[frequency] >= threshold) === loud;
        if (!ok(window[i])) continue;
        const rest = window.slice(i).filter((b) => b.at <= window[i].at + holdMs);
        if (window[window.length - 1].at >= window[i].at + holdMs && rest.every(ok)) return window[i].at;
      }
      if (Date.now() > deadline) throw new Error(`tone ${frequency} Hz never ${loud ? 'rose over' : 'fell under'} ${threshold} after ${after} (${window.length} blocks; ${this.#stderr.trim()})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }
}
