import { LineLogger, redactUrl, startFfmpeg, SupervisedProcess } from '@gw/common';
import { FlvTag, FlvTagReader } from './flv';
import { buildSourcePullArgs } from './relay-args';

const NO_MEDIA_MS = 4000;

export interface SourcePullerOptions {
  name: string;
  url: string;
  ffmpegPath: string;
  /** Nice value of the pull (see SupervisedProcessOptions.priority). */
  priority?: number;
  logger: LineLogger;
  /** A new pull session began (timestamps start over). */
  onSession: () => void;
  onTag: (tag: FlvTag) => void;
}

/**
 * Reads an RTMP stream (a host's source push) as FLV tags through a supervised
 * `ffmpeg -c copy`. Runs until stopped: a pull that ends (source reconnecting,
 * stall) is started again with backoff, each time as a new session.
 */
export class SourcePuller {
  #process: SupervisedProcess | undefined;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #lastMediaAt = 0;
  #watchdog: NodeJS.Timeout | undefined;

  constructor(private readonly o: SourcePullerOptions) {}

  get pid(): number | undefined {
    return this.#process?.running ? this.#process.pid : undefined;
  }

  /**
   * Starts pulling after `delayMs` (an origin's publish callback fires before
   * the stream is playable; nginx-rtmp leaves a player that came too early
   * without media). A pull that delivers no media for 4 s is restarted.
   */
  start(delayMs = 0): void {
    this.#timer = setTimeout(() => void this.#pull(), delayMs);
    this.#watchdog = setInterval(() => {
      const proc = this.#process;
      if (!proc || Date.now() - this.#lastMediaAt < NO_MEDIA_MS) return;
      this.#process = undefined;
      void proc.stop().then(() => this.#retry(`no media for ${NO_MEDIA_MS / 1000} s`));
    }, 1000);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#watchdog);
    await this.#process?.stop();
    this.#process = undefined;
  }

  async #pull(): Promise<void> {
    if (this.#stopped) return;
    const reader = new FlvTagReader();
    let proc: SupervisedProcess;
    try {
      proc = await startFfmpeg({
        name: this.o.name,
        ffmpegPath: this.o.ffmpegPath,
        args: buildSourcePullArgs(this.o.url),
        readiness: { kind: 'spawn' },
        rawStdout: true,
        priority: this.o.priority,
        logger: this.o.logger,
      });
    } catch (error) {
      return this.#retry((error as Error).message);
    }
    if (this.#stopped) {
      await proc.stop();
      return;
    }
    this.#process = proc;
    this.#lastMediaAt = Date.now();
    this.o.onSession();
    proc.stdout.on('data', (chunk: Buffer) => {
      let tags: FlvTag[];
      try {
        tags = reader.push(chunk);
      } catch (error) {
        this.o.logger.error(`${this.o.name}: ${(error as Error).message}`);
        void proc.stop();
        return;
      }
      if (tags.length) {
        this.#failures = 0;
        this.#lastMediaAt = Date.now();
      }
      for (const tag of tags) this.o.onTag(tag);
    });
    proc.once('died', (error) => {
      if (this.#process === proc) this.#process = undefined;
      this.#retry(error.message);
    });
  }

  #retry(reason: string): void {
    if (this.#stopped) return;
    this.#failures += 1;
    const delay = Math.min(200 * 2 ** Math.min(this.#failures - 1, 4), 3000);
    this.o.logger.warn(`${this.o.name}: pull of ${redactUrl(this.o.url)} ended (${reason.split('\n')[0]}); again in ${delay} ms`);
    this.#timer = setTimeout(() => void this.#pull(), delay);
  }
}
