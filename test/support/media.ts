import { ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { counterFilters } from '../../bench/support/frame-counter';

const run = promisify(execFile);

export interface Publisher {
  child: ChildProcess;
  exited: Promise<{ code: number | null; stderr: string }>;
  stop: () => Promise<void>;
}

/**
 * Publishes a synthetic stream with real ffmpeg: a solid colour (or testsrc2)
 * and a sine tone, H.264 + AAC over RTMP, in real time.
 */
export function publishTestStream(
  url: string,
  options: { color?: string; toneHz?: number; silent?: boolean; amplitude?: number; size?: string; fps?: number; seconds?: number; counter?: boolean } = {},
): Publisher {
  const { color = '0x00ff00', toneHz = 440, size = '640x360', fps = 25, seconds = 60 } = options;
  const [w, h] = size.split('x').map(Number);
  // With `counter`, every frame carries its number (frame-counter.ts), so a viewer-side probe can tell repeats apart.
  const vf = options.counter ? ['-vf', counterFilters(w, h)] : [];
  // `sine` plays at 1/8 of full scale; `amplitude` (0..1) makes a louder (or quieter) speaker.
  const audio = options.silent
    ? 'anullsrc=r=48000:cl=stereo'
    : options.amplitude !== undefined
      ? `aevalsrc=${options.amplitude}*sin(2*PI*${toneHz}*t):s=48000`
      : `sine=frequency=${toneHz}:sample_rate=48000`;
  const args = [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `color=c=${color}:size=${size}:rate=${fps}`,
    '-f', 'lavfi', '-i', audio,
    '-t', String(seconds),
    ...vf,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(fps), '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '96k',
    // An srt:// URL (the SRT ingest) carries MPEG-TS, as SRT encoders send; everything else is RTMP.
    '-f', url.startsWith('srt://') ? 'mpegts' : 'flv', url,
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
  return {
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Stream info as ffprobe reports it. */
export async function probe(url: string): Promise<{ codec_type: string; codec_name: string; width?: number; height?: number; sample_rate?: string }[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-rw_timeout', '10000000', '-show_streams', '-of', 'json', url], { timeout: 20000 });
  return JSON.parse(stdout).streams;
}

/** Decodes `count` video frames as rgb24 at their native size. */
export async function grabFrames(url: string, count: number, width: number, height: number): Promise<Buffer[]> {
  const { stdout } = await run(
    'ffmpeg',
    ['-v', 'error', '-rw_timeout', '10000000', '-i', url, '-frames:v', String(count), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: 20000 },
  );
  const size = width * height * 3;
  const frames: Buffer[] = [];
  for (let i = 0; i + size <= stdout.length; i += size) frames.push(stdout.subarray(i, i + size));
  return frames;
}

/** Decodes `seconds` of audio as mono s16le at 48 kHz. */
export async function grabAudio(url: string, seconds: number): Promise<Buffer> {
  const { stdout } = await run(
    'ffmpeg',
    ['-v', 'error', '-rw_timeout', '10000000', '-i', url, '-t', String(seconds), '-vn', '-ac', '1', '-ar', '48000', '-f', 's16le', '-'],
    { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024, timeout: 20000 },
  );
  return stdout;
}

/** Video frame timestamps (seconds) of `seconds` of a live stream, read as a player would. */
export async function frameTimes(url: string, seconds: number): Promise<number[]> {
  const { stdout } = await run(
    'ffprobe',
    ['-v', 'error', '-rw_timeout', '10000000', '-select_streams', 'v:0', '-read_intervals', `%+${seconds}`, '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', url],
    { timeout: 30000, maxBuffer: 8 * 1024 * 1024 },
  );
  return stdout
    .split('\n')
    .map((l) => parseFloat(l))
    .filter((n) => Number.isFinite(n));
}
