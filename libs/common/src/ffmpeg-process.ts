import { spawn } from 'node:child_process';
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
