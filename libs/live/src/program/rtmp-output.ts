import { LineLogger, redactUrl, startFfmpeg, SupervisedProcess, TypedEmitter } from '@gw/common';
import { buildRtmpOutputArgs } from './relay-args';
import { FlvTag, isVideoKeyframe } from './flv';

export type OutputState = 'connecting' | 'live' | 'reconnecting' | 'failed' | 'stopped';

export interface RtmpOutputOptions {
  taskId: string;
  url: string;
  ffmpegPath: string;
  /** Nice value of the relay (see SupervisedProcessOptions.priority). */
  priority?: number;
  logger: LineLogger;
  /** What a fresh connection needs first (header, configs, current GOP); null until available. */
  snapshot: () => Buffer | null;
  /** A URL that never connected fails after this many attempts. Default 3. */
  firstConnectAttempts?: number;
  /** A URL that was connected is retried for this long after it drops. Default 30 s. */
  retryWindowMs?: number;
}

interface RtmpOutputEvents extends Record<string, unknown[]> {
  state: [{ url: string; state: OutputState; reason?: string }];
}

const BACKLOG_LIMIT = 4 * 1024 * 1024;

/**
 * One RTMP output of a mix task (MLG): a supervised ffmpeg that copies the
 * encoded FLV to the URL. Each output has its own process, so adding, removing
 * or losing one never touches the others. A dropped connection is retried with
 * backoff (LiveKit's rule: never connected → fail fast; was connected → retry
 * for 30 s), counting `retries`.
 */
export class RtmpOutput extends TypedEmitter<RtmpOutputEvents> {
  #process: SupervisedProcess | undefined;
  #state: OutputState = 'connecting';
  #retries = 0;
  #everConnected = false;
  #droppedAt: number | undefined;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #waitingForKeyframe = false;
  #bytesOut = 0;

  constructor(private readonly o: RtmpOutputOptions) {
    super();
  }

  get url(): string {
    return this.o.url;
  }

  get state(): OutputState {
    return this.#state;
  }

  get retries(): number {
    return this.#retries;
  }

  get bytesOut(): number {
    return this.#bytesOut;
  }

  get pid(): number | undefined {
    return this.#process?.running ? this.#process.pid : undefined;
  }

  start(): void {
    void this.#connect();
  }

  /** Feeds one live tag (after a backlog, from the next keyframe on). */
  write(tag: FlvTag): void {
    const proc = this.#process;
    if (!proc?.running || this.#state === 'stopped' || this.#state === 'failed') return;
    if (this.#waitingForKeyframe) {
      if (!isVideoKeyframe(tag)) return;
      this.#waitingForKeyframe = false;
    }
    if (proc.stdin.writableLength > BACKLOG_LIMIT) {
      // The peer is not taking data: skip to the next keyframe rather than queue without bound.
      this.#waitingForKeyframe = true;
      return;
    }
    proc.stdin.write(tag.raw);
    this.#bytesOut += tag.raw.length;
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#setState('stopped');
    // End of input lets ffmpeg finish the RTMP stream cleanly; stop() then reaps or kills it.
    this.#process?.stdin.end();
    await this.#process?.stop();
  }

  async #connect(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#attempt += 1;
    if (!this.o.snapshot()) {
      // Nothing encoded yet: try again shortly.
      this.#timer = setTimeout(() => void this.#connect(), 20);
      this.#attempt -= 1;
      return;
    }
    let proc: SupervisedProcess;
    try {
      proc = await startFfmpeg({
        name: `mix:${this.o.taskId}:out`,
        ffmpegPath: this.o.ffmpegPath,
        args: buildRtmpOutputArgs(this.o.url),
        // ffmpeg announces the output once the RTMP connection is established.
        readiness: { kind: 'line', stream: 'stderr', pattern: /^Output #0/ },
        readyTimeoutMs: 10000,
        stdin: true,
        priority: this.o.priority,
        logger: this.o.logger,
        // The snapshot goes first, then live tags follow on from it without a gap.
        onSpawn: (p) => {
          const snapshot = this.o.snapshot()!;
          p.stdin.write(snapshot);
          this.#bytesOut += snapshot.length;
          this.#waitingForKeyframe = false;
          this.#process = p;
        },
      });
    } catch (error) {
      this.#process = undefined;
      this.#onDrop((error as Error).message);
      return;
    }
    if ((this.#state as OutputState) === 'stopped') {
      await proc.stop();
      return;
    }
    this.#process = proc;
    this.#everConnected = true;
    this.#droppedAt = undefined;
    this.#attempt = 0;
    this.#setState('live');
    proc.once('died', (error) => {
      if (this.#process !== proc) return;
      this.#process = undefined;
      this.#onDrop(error.message);
    });
  }

  #onDrop(reason: string): void {
    if (this.#state === 'stopped') return;
    const now = Date.now();
    if (this.#everConnected) {
      this.#droppedAt ??= now;
      if (now - this.#droppedAt > (this.o.retryWindowMs ?? 30000)) return this.#fail(`reconnect window exceeded: ${reason}`);
    } else if (this.#attempt >= (this.o.firstConnectAttempts ?? 3)) {
      return this.#fail(`could not connect: ${reason}`);
    }
    this.#retries += 1;
    this.#setState(this.#everConnected ? 'reconnecting' : 'connecting', reason);
    const delay = Math.min(250 * 2 ** Math.min(this.#attempt, 4), 4000);
    this.o.logger.warn(`mix ${this.o.taskId}: output ${redactUrl(this.o.url)} dropped (${reason}); retry ${this.#retries} in ${delay} ms`);
    this.#timer = setTimeout(() => void this.#connect(), delay);
  }

  #fail(reason: string): void {
    this.o.logger.error(`mix ${this.o.taskId}: output ${redactUrl(this.o.url)} failed: ${reason}`);
    this.#setState('failed', reason);
  }

  #setState(state: OutputState, reason?: string): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit('state', { url: this.o.url, state, reason });
  }
}
