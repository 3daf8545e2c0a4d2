/**
 * `npm run bench -- presentation` (issue 20): what a meeting with slides on
 * air costs. Four cameras (ffmpeg RTMP participants, 640x360@15) and a
 * presentation PC sharing a 1920x1080 screen at 10 fps (an ingest URL of kind
 * screen), mixed in the presentation layout into 1920x1080@15; our CPU beside
 * the honest floor (one ffmpeg decoding the same streams, composing the same
 * layout, encoding the same way), measured side by side in one run by
 * bench/mix.bench.ts's cpuScenario.
 */
import { Benchmark } from './support/benchmark';
import { cpuRows, cpuScenario, withMixBench } from './mix.bench';

export async function presentationBench(): Promise<Record<string, unknown>> {
  const seconds = Number(process.env.BENCH_CPU_SECONDS ?? 15);
  return withMixBench(async (b) => ({
    cpu: { '4 cameras + 1920x1080 screen → 1920x1080@15': await cpuScenario(b, 4, 1920, 1080, 15, 4000, seconds, { size: '1920x1080', fps: 10 }) },
  }));
}

export const benchmark: Benchmark = {
  run: presentationBench,
  method:
    'The built gateway as a process (embedded origin, 2 mediasoup workers). Four camera participants are ffmpeg RTMP pushes (640x360@15, a colour, a tone, a frame counter) into their ingest URLs; ' +
    'a presentation PC pushes a 1920x1080 screen at 10 fps (green, a counter, a tone) into an ingest URL of kind screen. The mix runs layout presentation into 1920x1080@15 at 4000 kbit/s. ' +
    'CPU: every process of the gateway\'s tree over BENCH_CPU_SECONDS (default 15) with the conference running and no mix, then with the mix; the difference is the mix\'s cost (the RTMP ingest left out). ' +
    'Floor, right after in the same run: one ffmpeg reading the same five streams (pre-encoded H.264 baseline + Opus of the same sizes and rates, in real time), composing the same presentation layout (the screen fit without enlarging, the cameras in the column) and encoding with the same settings.',
  summary: (r) => cpuRows(r.cpu),
  targets: (r) => Object.entries(r.cpu ?? {}).map(([k, v]: [string, any]) => ({ figure: `CPU vs the honest floor, ${k}`, value: v.ratioToFloor, unit: 'x', kind: 'max' as const, limit: 1.3 })),
};
