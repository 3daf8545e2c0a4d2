/**
 * `npm run bench -- presentation` (issue 20): what a meeting with slides on
 * air costs. Four cameras (ffmpeg RTMP participants, 640x360@15) and a
 * presentation PC sharing a 1920x1080 screen at 10 fps (an ingest URL of kind
 * screen), mixed in the presentation layout into 1920x1080@15; our CPU beside
 * the honest floor (one ffmpeg decoding the same streams, composing the same
 * layout, encoding the same way), measured side by side in one run by
 * bench/mix.bench.ts's cpuScenario.
 */
import { rmSync } from 'node:fs';
import { startGateway } from './support/gateway';
import { Benchmark } from './support/benchmark';
import { Bench, cpuScenario } from './mix.bench';

export async function presentationBench(): Promise<Record<string, unknown>> {
  const gw = await startGateway({
    env: {
      LOG_LEVEL: 'warn',
      SFU_WORKERS: '2',
      MIX_RTP_MIN_PORT: '52000',
      MIX_RTP_MAX_PORT: '58999',
      RATE_LIMIT_REST_PER_SECOND: '100000', RATE_LIMIT_REST_BURST: '100000', RATE_LIMIT_IP_PER_SECOND: '1000000', RATE_LIMIT_IP_BURST: '1000000',
    },
  });
  const b = new Bench(gw);
  try {
    const seconds = Number(process.env.BENCH_CPU_SECONDS ?? 15);
    return { cpu: { '4 cameras + 1920x1080 screen → 1920x1080@15': await cpuScenario(b, 4, 1920, 1080, 15, 4000, seconds, { size: '1920x1080', fps: 10 }) } };
  } finally {
    await b.close();
    await gw.stop().catch((error: Error) => process.stderr.write(`${error.message}\n`));
    rmSync(gw.dataDir, { recursive: true, force: true });
  }
}

export const benchmark: Benchmark = {
  run: presentationBench,
  method:
    'The built gateway as a process (embedded origin, 2 mediasoup workers). Four camera participants are ffmpeg RTMP pushes (640x360@15, a colour, a tone, a frame counter) into their ingest URLs; ' +
    'a presentation PC pushes a 1920x1080 screen at 10 fps (green, a counter, a tone) into an ingest URL of kind screen. The mix runs layout presentation into 1920x1080@15 at 4000 kbit/s. ' +
    'CPU: every process of the gateway\'s tree over BENCH_CPU_SECONDS (default 15) with the conference running and no mix, then with the mix; the difference is the mix\'s cost (the RTMP ingest left out). ' +
    'Floor, right after in the same run: one ffmpeg reading the same five streams (pre-encoded H.264 baseline + Opus of the same sizes and rates, in real time), composing the same presentation layout (the screen fit without enlarging, the cameras in the column) and encoding with the same settings.',
  summary: (r) =>
    Object.entries(r.cpu ?? {}).flatMap(([k, v]: [string, any]) => [
      `| CPU per output second, ${k} | ours ${v.mixCpuPerSecond} s/s vs floor ${v.floorCpuPerSecond} s/s = **${v.ratioToFloor}x** (bare encode ${v.bareEncodeCpuPerSecond} s/s: ${v.ratioToBareEncode}x; speed ${v.speed}) | the first issue's target: <= 1.3x the floor |`,
      `| where our CPU goes, ${k} (s/s) | ${Object.entries(v.breakdown).map(([role, s]) => `${role} ${s}`).join('; ')} | |`,
    ]),
  targets: (r) => Object.entries(r.cpu ?? {}).map(([k, v]: [string, any]) => ({ figure: `CPU vs the honest floor, ${k}`, value: v.ratioToFloor, unit: 'x', kind: 'max' as const, limit: 1.3 })),
};
