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
