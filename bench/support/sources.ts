/**
 * The benches' test sources: ffmpeg pushing a solid colour with the frame
 * counter burned in (frame-counter.ts, so a viewer-side probe can tell each
 * picture of each participant apart and see repeats) and a tone, H.264 +
 * AAC over RTMP in real time, 1 s GOP.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { counterFilters } from './frame-counter';

export interface SourceOptions {
  color: string;
  toneHz: number;
  /** 0..1 of full scale (a louder speaker); default `sine`'s 1/8. */
  amplitude?: number;
  width?: number;
  height?: number;
  fps?: number;
  seconds?: number;
}

export function pushCounted(url: string, o: SourceOptions): ChildProcess {
  const { width = 640, height = 360, fps = 25, seconds = 600 } = o;
  const audio = o.amplitude !== undefined ? `aevalsrc=${o.amplitude}*sin(2*PI*${o.toneHz}*t):s=48000` : `sine=frequency=${o.toneHz}:sample_rate=48000`;
  return spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `color=c=${o.color}:size=${width}x${height}:rate=${fps}`, '-f', 'lavfi', '-i', audio,
      '-t', String(seconds), '-vf', counterFilters(width, height),
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(fps), '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k', '-f', 'flv', url],
    { stdio: 'ignore' },
  );
}

/** SIGTERM, then SIGKILL after 3 s; resolves once the process is gone. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
