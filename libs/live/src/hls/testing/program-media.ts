/** Real program media for specs: FLV tags from Debian's ffmpeg (H.264 + AAC, as hosts and mixes push them). */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { FlvTag, FlvTagReader } from '../../program/flv';

const run = promisify(execFile);

export interface TestMedia {
  seconds: number;
  width: number;
  height: number;
  fps: number;
  /** lavfi colour, e.g. red. */
  color: string;
  toneHz: number;
  /** x264 profile. */
  profile?: 'baseline' | 'main' | 'high';
  /** B-frames (composition offsets). */
  bframes?: number;
}

/** The FLV tags ffmpeg writes for a coloured picture and a tone, keyframe every second. */
export async function programTags(m: TestMedia): Promise<FlvTag[]> {
  const { stdout } = await run(
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error',
      '-f', 'lavfi', '-i', `color=c=${m.color}:size=${m.width}x${m.height}:rate=${m.fps}`,
      '-f', 'lavfi', '-i', `sine=f=${m.toneHz}:sample_rate=48000`,
      '-t', String(m.seconds),
      '-c:v', 'libx264', '-preset', m.profile && m.profile !== 'baseline' ? 'veryfast' : 'ultrafast', '-profile:v', m.profile ?? 'baseline', '-bf', String(m.bframes ?? 0),
      '-g', String(m.fps), '-keyint_min', String(m.fps), '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '96k', '-ac', '2',
      '-f', 'flv', 'pipe:1',
    ],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  return new FlvTagReader().push(stdout);
}

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  sample_rate?: string;
  channels?: number;
  nb_read_frames?: string;
}

/** ffprobe's view of a file or URL, every frame decoded and counted. */
export function probeStreams(input: string): ProbedStream[] {
  const out = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', input], { encoding: 'utf8', timeout: 60000 });
  return JSON.parse(out).streams;
}

/** The average RGB of the first decoded picture (scaled down to 16x16). */
export function firstPictureRgb(input: string): [number, number, number] {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', input, '-frames:v', '1', '-vf', 'scale=16:16', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { timeout: 60000 });
  const sum = [0, 0, 0];
  for (let i = 0; i < raw.length; i += 3) for (let c = 0; c < 3; c++) sum[c] += raw[i + c];
  const n = raw.length / 3;
  return [Math.round(sum[0] / n), Math.round(sum[1] / n), Math.round(sum[2] / n)];
}
