import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { LineLogger, Readiness, SupervisedProcess } from './supervised-process';

export interface FfmpegRunOptions {
  /** Log label, e.g. `ingest:<conferenceId>/<userId>`. */
  name: string;
  ffmpegPath: string;
  /** Arguments from one of the pure builders; never built ad hoc. */
  args: string[];
  /** Default: the first "Output #0" line, printed once inputs are open and outputs set up. */
  readiness?: Readiness;
  readyTimeoutMs?: number;
  /** Media pipes, as in SupervisedProcessOptions. */
  stdin?: boolean;
  rawStdout?: boolean;
  extraPipes?: number;
  /** Called once the process exists, before readiness (e.g. to feed its stdin). */
  onSpawn?: (process: SupervisedProcess) => void;
  /** Nice value for the process (see SupervisedProcessOptions.priority). */
  priority?: number;
  logger: LineLogger;
}

/**
 * The one place ffmpeg is started. Readiness defaults to ffmpeg announcing its
 * first output; warnings and errors in its stderr are logged at warn level.
 */
export function startFfmpeg(options: FfmpegRunOptions): Promise<SupervisedProcess> {
  return SupervisedProcess.start({
    name: options.name,
    command: options.ffmpegPath,
    args: options.args,
    readiness: options.readiness ?? { kind: 'line', stream: 'stderr', pattern: /^Output #0/ },
    readyTimeoutMs: options.readyTimeoutMs ?? 15000,
    stopTimeoutMs: 2000,
    stderrWarnPattern: /error|invalid|failed|refused/i,
    stdin: options.stdin,
    rawStdout: options.rawStdout,
    extraPipes: options.extraPipes,
    onSpawn: options.onSpawn,
    priority: options.priority,
    logger: options.logger,
  });
}

/**
 * Reads what a stream holds (ffmpeg's own description of its inputs, from
 * stderr) without decoding more than one picture. Resolves with the stderr
 * text; never rejects: a stream that cannot be read gives whatever ffmpeg said
 * (an empty description), and the process is killed after `timeoutMs`.
 */
export function describeStream(options: { ffmpegPath: string; args: string[]; timeoutMs: number }): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(options.ffmpegPath, options.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-16384)));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', () => undefined);
    child.once('close', () => {
      clearTimeout(timer);
      resolve(stderr);
    });
  });
}

export interface FfmpegJob {
  /** Resolves once ffmpeg has exited: its code, whether it was cut short, its last stderr lines. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; cutShort: boolean; stderrTail: string[] }>;
  /** Ends it now (SIGTERM, SIGKILL 2 s later). Idempotent. */
  cancel(): void;
}

/**
 * A one-shot ffmpeg run that ends by itself (a remux, a conversion): bounded by
 * `timeoutMs`, after which it is ended. Unlike startFfmpeg's long-running
 * processes, exiting is its success, so an exit is no death. The owner cancels
 * it on shutdown.
 */
export function runFfmpegJob(options: { name: string; ffmpegPath: string; args: string[]; timeoutMs: number; logger: LineLogger }): FfmpegJob {
  const child = spawn(options.ffmpegPath, options.args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const tail: string[] = [];
  let cutShort = false;
  let killer: NodeJS.Timeout | undefined;
  createInterface({ input: child.stderr! }).on('line', (line) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    options.logger.debug(`[${options.name}] ${line}`);
  });
  const cancel = () => {
    if (cutShort || child.exitCode !== null || child.signalCode !== null) return;
    cutShort = true;
    child.kill('SIGTERM');
    killer = setTimeout(() => child.kill('SIGKILL'), 2000);
  };
  const timer = setTimeout(cancel, options.timeoutMs);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; cutShort: boolean; stderrTail: string[] }>((resolve) => {
    child.once('error', (error) => {
      if (child.pid === undefined) {
        clearTimeout(timer);
        resolve({ code: null, signal: null, cutShort, stderrTail: [error.message] });
      }
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killer);
      resolve({ code, signal, cutShort, stderrTail: [...tail] });
    });
  });
  return { done, cancel };
}
