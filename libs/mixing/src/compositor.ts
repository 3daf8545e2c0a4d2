import { LineLogger, startFfmpeg, SupervisedProcess, TypedEmitter } from '@gw/common';
import { AudioMixer } from './audio-mixer';
import { buildEncoderArgs, OutputSettings } from './ffmpeg-args';
import type { Cell } from './layout';
import { PerSecond } from './per-second';
import { blit, YuvFrame } from './yuv-frame';

export interface CompositorOptions {
  taskId: string;
  settings: OutputSettings;
  ffmpegPath: string;
  logger: LineLogger;
  /** Restart delay after the encoder dies. Default 100 ms. */
  restartDelayMs?: number;
  /** Audio each participant holds back before it plays (jitter buffer and lip-sync). Default 180 ms. */
  audioDelayMs?: number;
}

interface CompositorEvents extends Record<string, unknown[]> {
  /** Encoded FLV bytes from the current encoder. */
  flv: [Buffer];
  /** A new encoder session began (its FLV starts with a header and timestamp 0). */
  session: [{ restarted: boolean; pid: number }];
  /** The encoder died; a new one is being started. */
  encoderDied: [{ reason: string }];
  /** The encoder could not be (re)started. */
  failed: [{ reason: string }];
}

/** What one cell shows this tick. */
export interface CellPicture {
  cell: Cell;
  frame: YuvFrame | undefined;
}

/** How far ahead of its video the mixed audio is written to the encoder: three AAC frames at 48 kHz. */
export const AUDIO_LEAD_MS = 64;

/**
 * The MCU's core: at a steady clock it composes the canvas (background, then
 * every cell's latest picture in z-order) and mixes the audio, and writes both
 * to the encoder. The clock, not the inputs, paces the output, so a stalled
 * participant cannot freeze it. Frame and sample counts follow wall time from
 * the session start, which keeps audio and video in step.
 */
export class Compositor extends TypedEmitter<CompositorEvents> {
  readonly mixer: AudioMixer;
  #encoder: SupervisedProcess | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** A one-shot timer at the next video frame's due time (the 10 ms interval alone made frames up to 10 ms late). */
  #frameTimer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #framesWritten = 0;
  #samplesWritten = 0;
  #background: YuvFrame;
  #pictures: (atMs: number) => CellPicture[] = () => [];
  #overlays: { x: number; y: number; frame: YuvFrame }[] = [];
  #labels: { x: number; y: number; frame: YuvFrame }[] = [];
  #stopped = false;
  #restarts = 0;
  /** Frames written in the last second, for stats. */
  readonly #written = new PerSecond();
  #droppedFrames = 0;
  /** When each of the last seconds' frames left the compositor (performance.now()), for its pacing (maxWriteGapMs). */
  readonly #writeTimes: number[] = [];
  #lastFrame: Buffer | undefined;
  readonly #freeCanvases: Buffer[] = [];
  readonly #audioLeadMs: number;

  constructor(
    private readonly o: CompositorOptions,
    background: YuvFrame,
  ) {
    super();
    this.#background = background;
    const delayMs = o.audioDelayMs ?? 180;
    // The audio goes to the encoder AUDIO_LEAD_MS ahead of its video, out of the hold: the total hold stays
    // MIX_AUDIO_DELAY_MS (so A/V timing and audio latency are as before), and ffmpeg, which encodes its two
    // inputs in timestamp order, never waits for audio that is not there yet (it polls every 10 ms, and the
    // waits showed as 95 ms gaps between 67 ms frames at 15 fps; 75–85 ms with the lead).
    this.#audioLeadMs = Math.min(AUDIO_LEAD_MS, delayMs);
    const startMs = delayMs - this.#audioLeadMs;
    this.mixer = new AudioMixer({ sampleRate: o.settings.audio.sampleRate, channels: o.settings.audio.channels, startMs, maxMs: startMs + 60 });
  }

  get pid(): number | undefined {
    return this.#encoder?.running ? this.#encoder.pid : undefined;
  }

  get restarts(): number {
    return this.#restarts;
  }

  /** Frames written to the current encoder session so far (the next frame written has this index). */
  get framesWritten(): number {
    return this.#framesWritten;
  }

  get droppedFrames(): number {
    return this.#droppedFrames;
  }

  /**
   * The longest wall-clock gap between two frames the compositor wrote in the
   * last 5 s: its own pacing (event-loop delays land here), as against what a
   * viewer sees after the encoder, the relays and the origin.
   */
  get maxWriteGapMs(): number {
    const now = performance.now();
    while (this.#writeTimes.length && now - this.#writeTimes[0] > 5000) this.#writeTimes.shift();
    let max = 0;
    for (let i = 1; i < this.#writeTimes.length; i++) max = Math.max(max, this.#writeTimes[i] - this.#writeTimes[i - 1]);
    return Math.round(max);
  }

  /** Frames per second written over the last second. */
  get fps(): number {
    return this.#written.rate();
  }

  setBackground(frame: YuvFrame): void {
    this.#background = frame;
  }

  /** Pictures drawn over every cell, in order, from the next frame on (replaces the previous set). */
  setOverlays(overlays: { x: number; y: number; frame: YuvFrame }[]): void {
    this.#overlays = overlays;
  }

  /** Name labels, drawn over the cells and under the overlays, from the next frame on (replaces the previous set). */
  setLabels(labels: { x: number; y: number; frame: YuvFrame }[]): void {
    this.#labels = labels;
  }

  /**
   * The source of what each cell shows, asked once per output frame with the time that frame is due
   * (performance.now(); the due time, not the tick's, so a timer's jitter does not move a picture
   * from one frame to the next).
   */
  setPictureSource(source: (atMs: number) => CellPicture[]): void {
    this.#pictures = source;
  }

  async start(): Promise<void> {
    await this.#startEncoder(false);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#frameTimer);
    // Closing both inputs lets ffmpeg flush and exit at once; stop() then reaps or kills it.
    this.#encoder?.stdin.end();
    this.#encoder?.pipe(0).end();
    await this.#encoder?.stop();
  }

  async #startEncoder(restarted: boolean): Promise<void> {
    const encoder = await startFfmpeg({
      name: `mix:${this.o.taskId}:encode`,
      ffmpegPath: this.o.ffmpegPath,
      args: buildEncoderArgs(this.o.settings),
      readiness: { kind: 'spawn' },
      stdin: true,
      rawStdout: true,
      extraPipes: 1,
      logger: this.o.logger,
    });
    if (this.#stopped) {
      await encoder.stop();
      return;
    }
    this.#encoder = encoder;
    encoder.stdout.on('data', (chunk: Buffer) => {
      if (this.#encoder === encoder) this.emit('flv', chunk);
    });
    encoder.once('died', (error) => {
      if (this.#stopped || this.#encoder !== encoder) return;
      this.#encoder = undefined;
      this.emit('encoderDied', { reason: error.message });
      setTimeout(() => this.#restart(), this.o.restartDelayMs ?? 100);
    });
    this.#startedAt = performance.now();
    this.#framesWritten = 0;
    this.#samplesWritten = 0;
    this.emit('session', { restarted, pid: encoder.pid! });
    clearInterval(this.#timer);
    clearTimeout(this.#frameTimer);
    this.#timer = setInterval(() => this.#tick(), 10);
    this.#tick();
  }

  #restart(attempt = 1): void {
    if (this.#stopped) return;
    this.#restarts += 1;
    this.#startEncoder(true).catch((error: Error) => {
      if (attempt >= 5) {
        this.emit('failed', { reason: `encoder would not restart: ${error.message}` });
        return;
      }
      setTimeout(() => this.#restart(attempt + 1), 200 * attempt);
    });
  }

  /** Writes every video frame and audio sample that wall time says is due. */
  #tick(): void {
    const encoder = this.#encoder;
    if (!encoder || this.#stopped) return;
    const { video, audio } = this.o.settings;
    const elapsed = (performance.now() - this.#startedAt) / 1000;

    const samplesDue = Math.floor((elapsed + this.#audioLeadMs / 1000) * audio.sampleRate) - this.#samplesWritten;
    if (samplesDue > 0) {
      encoder.pipe(0).write(this.mixer.mix(samplesDue));
      this.#samplesWritten += samplesDue;
    }

    const framesDue = Math.floor(elapsed * video.fps) + 1 - this.#framesWritten;
    if (framesDue <= 0) return this.#armFrameTimer();
    // An encoder that cannot keep up is sent repeats of the last composition (no new
    // compositing work); every due frame is still written so audio and video keep one clock.
    const backlogged = encoder.stdin.writableLength > 8 * 1024 * 1024 && this.#lastFrame !== undefined;
    const dueAt = this.#startedAt + ((this.#framesWritten + framesDue - 1) * 1000) / video.fps;
    const frame = backlogged ? this.#lastFrame! : this.#compose(dueAt);
    if (backlogged) this.#droppedFrames += framesDue;
    this.#lastFrame = frame;
    let pending = framesDue;
    for (let i = 0; i < framesDue; i++) {
      // The canvas may be reused once its last pending write is done and a newer frame exists.
      encoder.stdin.write(frame, () => {
        pending -= 1;
        if (pending === 0 && this.#lastFrame !== frame && this.#freeCanvases.length < 4) this.#freeCanvases.push(frame);
      });
      this.#framesWritten += 1;
      this.#written.record();
      this.#writeTimes.push(performance.now());
      if (this.#writeTimes.length > 600) this.#writeTimes.shift();
    }
    this.#armFrameTimer();
  }

  /** Wakes the compositor when the next frame is due, to the millisecond (audio goes with the 10 ms interval). */
  #armFrameTimer(): void {
    clearTimeout(this.#frameTimer);
    if (this.#stopped || !this.#encoder) return;
    const dueAt = this.#startedAt + (this.#framesWritten * 1000) / this.o.settings.video.fps;
    this.#frameTimer = setTimeout(() => this.#tick(), Math.max(0, dueAt - performance.now()));
    this.#frameTimer.unref?.();
  }

  /**
   * Canvases are recycled once the encoder has consumed them (the write
   * callback), so steady state allocates nothing per frame.
   */
  #canvas(): Buffer {
    const size = this.#background.data.length;
    const free = this.#freeCanvases.pop();
    return free && free.length === size ? free : Buffer.allocUnsafe(size);
  }

  #compose(atMs: number): Buffer {
    const data = this.#canvas();
    this.#background.data.copy(data);
    const canvas: YuvFrame = { ...this.#background, data };
    const pictures = this.#pictures(atMs).sort((a, b) => a.cell.zOrder - b.cell.zOrder);
    for (const { cell, frame } of pictures) {
      if (frame) blit(canvas, frame, cell.x, cell.y, cell.width, cell.height);
    }
    for (const label of this.#labels) blit(canvas, label.frame, label.x, label.y);
    for (const overlay of this.#overlays) blit(canvas, overlay.frame, overlay.x, overlay.y);
    return canvas.data;
  }
}
