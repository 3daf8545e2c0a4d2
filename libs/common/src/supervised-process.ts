import { ChildProcess, fork, spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import { GatewayError } from './errors';
import { redactText } from './redact';
import { TypedEmitter } from './typed-emitter';

/** The logging surface a supervised process writes to (Nest's Logger fits). */
export interface LineLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the exit was asked for through stop(). */
  requested: boolean;
  /** Last stderr lines, redacted, to explain a failure. */
  stderrTail: string[];
}

/** The process never became ready: it could not spawn, exited early, or timed out. */
export class ProcessStartError extends GatewayError {
  constructor(
    readonly processName: string,
    reason: string,
    readonly exit?: ProcessExit,
  ) {
    super('PROCESS_START_FAILED', `${processName} failed to start: ${reason}`, 500);
  }
}

/** The process was ready and then exited without being asked to. */
export class ProcessDiedError extends GatewayError {
  constructor(
    readonly processName: string,
    readonly exit: ProcessExit,
  ) {
    super(
      'PROCESS_DIED',
      `${processName} died (code ${exit.code}, signal ${exit.signal})` +
        (exit.stderrTail.length ? `: ${exit.stderrTail[exit.stderrTail.length - 1]}` : ''),
      500,
    );
  }
}

/** How readiness is signalled. Never a sleep: a line, an IPC message, or the spawn itself. */
export type Readiness =
  | { kind: 'spawn' }
  | { kind: 'line'; pattern: RegExp; stream?: 'stdout' | 'stderr' }
  | { kind: 'message'; match: (message: unknown) => boolean };

export interface SupervisedProcessOptions {
  /** Label for logs and errors, e.g. `origin` or `mix:<taskId>`. */
  name: string;
  /** Executable (spawn) or module path (fork). */
  command: string;
  args: string[];
  /** Fork a Node module with an IPC channel instead of spawning an executable. Default false. */
  fork?: boolean;
  env?: NodeJS.ProcessEnv;
  readiness: Readiness;
  /** Default 15000 ms. */
  readyTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL on stop(). Default 3000 ms. */
  stopTimeoutMs?: number;
  /** Logs stdout lines at debug level when true. Default false (stdout may be media data). */
  logStdout?: boolean;
  /** stdout carries media: hand out the raw stream, do not split it into lines. Default false. */
  rawStdout?: boolean;
  /** Pipe stdin (media or commands to the child). Default false (ignored). */
  stdin?: boolean;
  /** Extra pipes at fd 3, 4, … (e.g. a second media stream). Default 0. */
  extraPipes?: number;
  /** stderr lines are logged at debug level unless they match this (then warn). */
  stderrWarnPattern?: RegExp;
  logger: LineLogger;
  /** Called once the child exists, before readiness: attach listeners, send the first IPC message. */
  onSpawn?: (process: SupervisedProcess) => void;
  /**
   * Scheduling priority (nice value, -20 … 19) set right after the spawn. Used
   * for the cheap processes on a channel's on-air path, so a burst of CPU work
   * elsewhere (a mix starting: decoders and an encoder spawning at once) does
   * not stall what viewers are watching. Lowering it below 0 needs root or
   * CAP_SYS_NICE; without that the child keeps the gateway's priority (logged once).
   */
  priority?: number;
}

interface SupervisedProcessEvents extends Record<string, unknown[]> {
  /** Emitted once when the process exits unexpectedly after it was ready. */
  died: [ProcessDiedError];
  /** Emitted once on any exit, requested or not. */
  exit: [ProcessExit];
  message: [unknown];
  stdoutLine: [string];
  stderrLine: [string];
}

const STDERR_TAIL = 20;

/**
 * One child process with one owner. It distinguishes *failed to start* (start()
 * rejects with ProcessStartError) from *died while running* (`died` event), logs
 * stderr line by line with its name, and stops with SIGTERM then SIGKILL. stop()
 * is idempotent and always resolves once the process is gone.
 */
export class SupervisedProcess extends TypedEmitter<SupervisedProcessEvents> {
  readonly #options: SupervisedProcessOptions;
  readonly #child: ChildProcess;
  readonly #stderrTail: string[] = [];
  readonly #exited: Promise<ProcessExit>;
  #ready = false;
  #stopRequested = false;
  #exit: ProcessExit | undefined;

  /** Every process started and not yet exited, whoever owns it. */
  static readonly #running = new Set<SupervisedProcess>();

  /**
   * Ends every process still running and waits for each to exit, including
   * stops already in flight (an owner may have asked a process to stop without
   * waiting, e.g. when its source went away). The gateway calls this last on
   * shutdown, so no child outlives it even when one ignores SIGTERM for a while.
   */
  static get runningCount(): number {
    return SupervisedProcess.#running.size;
  }

  static #priorityRefused = false;

  #setPriority(pid: number, priority: number): void {
    try {
      setPriority(pid, priority);
    } catch (error) {
      if (SupervisedProcess.#priorityRefused) return;
      SupervisedProcess.#priorityRefused = true;
      this.#options.logger.warn(`${this.#options.name}: priority ${priority} refused (${(error as Error).message}); on-air processes run at the gateway's priority`);
    }
  }

  static async stopAll(): Promise<void> {
    await Promise.all([...SupervisedProcess.#running].map((p) => p.stop()));
  }

  static async start(options: SupervisedProcessOptions): Promise<SupervisedProcess> {
    const proc = new SupervisedProcess(options);
    options.onSpawn?.(proc);
    await proc.#waitReady();
    return proc;
  }

  private constructor(options: SupervisedProcessOptions) {
    super();
    this.#options = options;
    const stdin = options.stdin ? 'pipe' : 'ignore';
    const extra = Array.from({ length: options.extraPipes ?? 0 }, () => 'pipe' as const);
    const stdio: ('pipe' | 'ipc' | 'ignore')[] = options.fork ? [stdin, 'pipe', 'pipe', 'ipc'] : [stdin, 'pipe', 'pipe', ...extra];
    this.#child = options.fork
      ? fork(options.command, options.args, { env: options.env, stdio })
      : spawn(options.command, options.args, { env: options.env, stdio });
    SupervisedProcess.#running.add(this);
    if (options.priority !== undefined && this.#child.pid !== undefined) this.#setPriority(this.#child.pid, options.priority);

    this.#exited = new Promise((resolve) => {
      let spawnError: Error | undefined;
      this.#child.once('error', (error) => {
        spawnError = error;
        // 'exit' does not follow a failed spawn.
        if (this.#child.pid === undefined) finish(null, null);
      });
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.#exit) return;
        if (spawnError && this.#stderrTail.length === 0) this.#stderrTail.push(spawnError.message);
        this.#exit = { code, signal, requested: this.#stopRequested, stderrTail: [...this.#stderrTail] };
        resolve(this.#exit);
      };
      // 'close' would also wait for pipes we hold open (stdin, fd 3), so use 'exit' and give
      // stderr a moment to drain, so the stderr tail is complete.
      this.#child.once('exit', (code, signal) => {
        for (const stream of [this.#child.stdin, ...this.#child.stdio.slice(3)]) (stream as NodeJS.EventEmitter & { destroy?: () => void } | null)?.destroy?.();
        const stderr = this.#child.stderr;
        if (!stderr || stderr.readableEnded) return finish(code, signal);
        const timer = setTimeout(() => finish(code, signal), 200);
        stderr.once('close', () => {
          clearTimeout(timer);
          finish(code, signal);
        });
      });
    });

    if (!options.rawStdout) this.#pipeLines('stdout');
    this.#pipeLines('stderr');
    // A child that exits while we write to it must not crash the gateway with EPIPE.
    for (const stream of this.#child.stdio) (stream as NodeJS.EventEmitter | null)?.on?.('error', () => undefined);
    this.#child.on('message', (message) => this.emit('message', message));

    void this.#exited.then((exit) => {
      SupervisedProcess.#running.delete(this);
      const { logger, name } = this.#options;
      if (this.#ready && !exit.requested) {
        const error = new ProcessDiedError(name, exit);
        logger.error(error.message);
        this.emit('died', error);
      } else if (exit.requested) {
        logger.debug(`${name} exited (code ${exit.code}, signal ${exit.signal})`);
      }
      this.emit('exit', exit);
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The child's stdin (when `stdin: true`). */
  get stdin(): NodeJS.WritableStream & { writableLength: number } {
    return this.#child.stdin as NodeJS.WritableStream & { writableLength: number };
  }

  /** The child's stdout (raw when `rawStdout: true`). */
  get stdout(): NodeJS.ReadableStream {
    return this.#child.stdout!;
  }

  /** Extra pipe at fd `3 + index`. */
  pipe(index: number): NodeJS.ReadWriteStream & { writableLength: number } {
    return this.#child.stdio[3 + index] as unknown as NodeJS.ReadWriteStream & { writableLength: number };
  }

  get name(): string {
    return this.#options.name;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** Resolves when the process has exited, for whatever reason. */
  get exited(): Promise<ProcessExit> {
    return this.#exited;
  }

  /** Sends an IPC message (forked processes only). Returns false when the channel is gone. */
  send(message: unknown): boolean {
    if (!this.#child.connected) return false;
    this.#child.send(message as object);
    return true;
  }


  /** SIGTERM, then SIGKILL after stopTimeoutMs. Idempotent. */
  async stop(): Promise<ProcessExit> {
    if (this.#exit) return this.#exit;
    if (!this.#stopRequested) {
      this.#stopRequested = true;
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!this.#exit) {
          this.#options.logger.warn(`${this.#options.name} ignored SIGTERM; sending SIGKILL`);
          this.#child.kill('SIGKILL');
        }
      }, this.#options.stopTimeoutMs ?? 3000);
      void this.#exited.finally(() => clearTimeout(timer));
    }
    return this.#exited;
  }

  #pipeLines(stream: 'stdout' | 'stderr'): void {
    const source = this.#child[stream];
    if (!source) return;
    const { logger, name, logStdout, stderrWarnPattern } = this.#options;
    createInterface({ input: source }).on('line', (raw) => {
      const line = redactText(raw);
      if (stream === 'stderr') {
        this.#stderrTail.push(line);
        if (this.#stderrTail.length > STDERR_TAIL) this.#stderrTail.shift();
        if (stderrWarnPattern?.test(line)) logger.warn(`[${name}] ${line}`);
        else logger.debug(`[${name}] ${line}`);
        this.emit('stderrLine', line);
      } else {
        if (logStdout) logger.debug(`[${name}] ${line}`);
        this.emit('stdoutLine', line);
      }
    });
  }

  async #waitReady(): Promise<void> {
    const { readiness, name, readyTimeoutMs = 15000 } = this.#options;
    const ready = new Promise<void>((resolve) => {
      switch (readiness.kind) {
        case 'spawn':
          this.#child.once('spawn', () => resolve());
          break;
        case 'line': {
          const event = readiness.stream === 'stderr' ? 'stderrLine' : 'stdoutLine';
          const onLine = (line: string) => {
            if (readiness.pattern.test(line)) {
              this.off(event, onLine);
              resolve();
            }
          };
          this.on(event, onLine);
          break;
        }
        case 'message': {
          const onMessage = (message: unknown) => {
            if (readiness.match(message)) {
              this.off('message', onMessage);
              resolve();
            }
          };
          this.on('message', onMessage);
          break;
        }
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      ready.then(() => 'ready' as const),
      this.#exited.then(() => 'exited' as const),
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), readyTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (outcome === 'ready') {
      this.#ready = true;
      return;
    }
    if (outcome === 'timeout') {
      await this.stop();
      throw new ProcessStartError(name, `not ready within ${readyTimeoutMs} ms`, this.#exit);
    }
    const exit = this.#exit!;
    const detail = exit.stderrTail.length ? `: ${exit.stderrTail[exit.stderrTail.length - 1]}` : '';
    throw new ProcessStartError(name, `exited before ready (code ${exit.code}, signal ${exit.signal})${detail}`, exit);
  }
}
