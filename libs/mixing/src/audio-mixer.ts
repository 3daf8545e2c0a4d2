/**
 * Audio mixing of interleaved s16le PCM at one rate and channel count, with a
 * per-participant gain (0–2). Each participant has a small jitter buffer: it
 * starts playing once it holds `startMs`, and drops its oldest samples when it
 * grows past `maxMs` (so latency stays bounded when a source bursts). Pure.
 */
export interface MixerOptions {
  sampleRate: number;
  channels: number;
  /** Buffer to collect before a source plays. Default 40 ms. */
  startMs?: number;
  /** Buffer above which the oldest samples are dropped. Default 200 ms. */
  maxMs?: number;
}

interface Source {
  chunks: Buffer[];
  /** Bytes queued. */
  bytes: number;
  playing: boolean;
  gain: number;
  /** Smoothed mean square of the source's samples (before gain), 0..1. */
  level: number;
}

export class AudioMixer {
  readonly #sources = new Map<string, Source>();
  readonly #bytesPerFrame: number;
  readonly #startBytes: number;
  readonly #maxBytes: number;

  constructor(private readonly options: MixerOptions) {
    this.#bytesPerFrame = 2 * options.channels;
    const bytesPerMs = (options.sampleRate * this.#bytesPerFrame) / 1000;
    this.#startBytes = align(bytesPerMs * (options.startMs ?? 40), this.#bytesPerFrame);
    this.#maxBytes = align(bytesPerMs * (options.maxMs ?? 200), this.#bytesPerFrame);
  }

  setGain(userId: string, gain: number): void {
    this.#source(userId).gain = Math.max(0, Math.min(2, gain));
  }

  gain(userId: string): number {
    return this.#sources.get(userId)?.gain ?? 1;
  }

  push(userId: string, pcm: Buffer): void {
    const source = this.#source(userId);
    source.chunks.push(pcm);
    source.bytes += pcm.length;
    if (source.bytes >= this.#startBytes) source.playing = true;
    if (source.bytes > this.#maxBytes) skip(source, align(source.bytes - this.#startBytes, this.#bytesPerFrame));
  }

  /** The loudest source by smoothed level, if any is above `floor` (mean square, 0..1). */
  loudest(floor = 1e-4): string | undefined {
    let best: string | undefined;
    let bestLevel = floor;
    for (const [userId, source] of this.#sources) {
      if (source.level > bestLevel) {
        best = userId;
        bestLevel = source.level;
      }
    }
    return best;
  }

  /** Drops what a source has queued (it was muted: what it said before must not play after). */
  flush(userId: string): void {
    const source = this.#sources.get(userId);
    if (!source) return;
    source.chunks = [];
    source.bytes = 0;
    source.playing = false;
  }

  remove(userId: string): void {
    this.#sources.delete(userId);
  }

  /** Mixes the next `frames` sample frames of every playing source. Missing samples are silence. */
  mix(frames: number): Buffer {
    const out = new Float32Array(frames * this.options.channels);
    for (const source of this.#sources.values()) {
      if (!source.playing) {
        source.level *= 0.97; // a source that sends nothing fades out of the speaker ranking
        continue;
      }
      const pcm = samplesOf(take(source, frames * this.#bytesPerFrame));
      if (source.bytes === 0) source.playing = false; // underrun: refill before playing again
      let power = 0;
      for (let i = 0; i < pcm.length; i++) power += pcm[i] * pcm[i];
      const meanSquare = pcm.length ? power / pcm.length / (32768 * 32768) : 0;
      // ~0.3 s smoothing at 10 ms mixing steps.
      source.level = source.level * 0.97 + meanSquare * 0.03;
      const gain = source.gain;
      if (gain === 0) continue;
      for (let i = 0; i < pcm.length; i++) out[i] += pcm[i] * gain;
    }
    // Int16Array conversion rounds toward zero and wraps, so clip first.
    const result = new Int16Array(out.length);
    for (let i = 0; i < out.length; i++) {
      const v = out[i];
      result[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v);
    }
    return Buffer.from(result.buffer, result.byteOffset, result.byteLength);
  }

  #source(userId: string): Source {
    let source = this.#sources.get(userId);
    if (!source) {
      source = { chunks: [], bytes: 0, playing: false, gain: 1, level: 0 };
      this.#sources.set(userId, source);
    }
    return source;
  }
}

const align = (n: number, unit: number) => Math.floor(n / unit) * unit;

/** The samples of a little-endian s16 buffer as an Int16Array (copied when unaligned). */
function samplesOf(pcm: Buffer): Int16Array {
  const aligned = pcm.byteOffset % 2 === 0 ? pcm : Buffer.from(pcm);
  return new Int16Array(aligned.buffer, aligned.byteOffset, Math.floor(aligned.length / 2));
}

/** Removes up to `bytes` from the front of the queue and returns them (shorter on underrun). */
function take(source: Source, bytes: number): Buffer {
  const parts: Buffer[] = [];
  let needed = bytes;
  while (needed > 0 && source.chunks.length) {
    const head = source.chunks[0];
    if (head.length <= needed) {
      parts.push(head);
      source.chunks.shift();
      needed -= head.length;
    } else {
      parts.push(head.subarray(0, needed));
      source.chunks[0] = head.subarray(needed);
      needed = 0;
    }
  }
  const out = Buffer.concat(parts);
  source.bytes -= out.length;
  return out;
}

function skip(source: Source, bytes: number): void {
  take(source, bytes);
}
