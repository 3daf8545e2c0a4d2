/**
 * Cuts a stream of interleaved s16le PCM, as a pipe delivers it (chunks of
 * any length), into whole sample frames. A decoder's output read from a pipe
 * can end in the middle of a frame when the decoder is replaced (a restart
 * after a cell resize, a new source of the participant): had that tail been
 * queued in the mixer, every later sample of the participant would have been
 * read one to three bytes off (noise instead of their voice). One per decoder;
 * its unfinished tail is dropped with it. Pure.
 */
export class PcmFrames {
  #rest: Buffer = Buffer.alloc(0);

  constructor(private readonly frameBytes: number) {
    if (!Number.isInteger(frameBytes) || frameBytes < 1) throw new Error(`bad PCM frame size ${frameBytes}`);
  }

  /** The whole frames this chunk completes (undefined if none); a partial frame waits for the next chunk. */
  push(chunk: Buffer): Buffer | undefined {
    const all = this.#rest.length ? Buffer.concat([this.#rest, chunk]) : chunk;
    const whole = all.length - (all.length % this.frameBytes);
    this.#rest = Buffer.from(all.subarray(whole));
    return whole ? all.subarray(0, whole) : undefined;
  }
}
