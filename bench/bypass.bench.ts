/**
 * `npm run bench -- bypass`: on-demand bypass live, play request → first frame.
 * The built gateway as a process with the embedded origin; a conference of
 * three RTMP participants (640x360@25) mapped on demand to a channel. Each run
 * opens an HTTP-FLV player on the idle channel and times its first video
 * frame; then the player leaves and the run waits until the mix has stopped
 * and the origin has forgotten the stream (BYPASS_IDLE_SECONDS=1,
 * LIVE_PUBLISH_GRACE_MS=500, then 1.5 s) before the next.
 */
import type { Benchmark } from './support/benchmark';
import { ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { startGateway } from './support/gateway';
import { waitFor } from './support/processes';
import { FlvWatcher } from './support/viewer';

const RUNS = Number(process.env.BENCH_BYPASS_RUNS ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function push(url: string, color: string, toneHz: number): ChildProcess {
  return spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `color=c=${color}:size=640x360:rate=25`, '-f', 'lavfi', '-i', `sine=frequency=${toneHz}:sample_rate=48000`,
      '-t', '600', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', url],
    { stdio: 'ignore' },
  );
}

export async function bypassBench(): Promise<Record<string, unknown>> {
  const gw = await startGateway({ env: { LOG_LEVEL: 'warn', BYPASS_IDLE_SECONDS: '1', LIVE_PUBLISH_GRACE_MS: '500', MIX_RTP_MIN_PORT: '52000', MIX_RTP_MAX_PORT: '58999' } });
  const children: ChildProcess[] = [];
  try {
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'bench-bypass' })).body;
    const conferenceId = (await gw.admin('POST', '/api/v1/conferences', { title: 'bench' })).body.id;
    for (const [userId, color, tone] of [['a', '0xff0000', 440], ['b', '0x00ff00', 660], ['c', '0x0000ff', 1000]] as const) {
      await gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId });
      const url = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId })).body.url;
      children.push(push(url, color, tone));
    }
    await waitFor('participants', async () => ((await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body.participants.length === 3 ? true : undefined), 30000);
    await gw.admin('PUT', `/api/v1/conferences/${conferenceId}/live`, { channelId: 'bench-bypass', onDemand: true });
    const state = async () => ((await gw.admin('GET', '/api/v1/live-map')).body as { state: string }[])[0]?.state;
    const runs: number[] = [];
    for (let run = 0; run < RUNS; run += 1) {
      await waitFor('mix idle', async () => ((await state()) === 'idle' ? true : undefined), 30000);
      await waitFor('channel idle', async () => ((await gw.admin('GET', '/api/v1/channels/bench-bypass')).body.state === 'idle' ? true : undefined), 30000);
      // The origin keeps a stream that just ended (with its GOP) for its publish grace; a player then would get stale frames at once.
      await new Promise((r) => setTimeout(r, 1500));
      const askedAt = Date.now();
      const player = new FlvWatcher(channel.playUrls.flv);
      try {
        await waitFor('first frame', () => (player.frames.length > 0 ? true : undefined), 20000);
        runs.push(player.frames[0].at - askedAt);
      } finally {
        player.stop();
      }
    }
    return { playToFirstFrameMs: { medianMs: median(runs), runsMs: runs }, participants: 3, output: '1280x720@25, speaker layout' };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await gw.stop().catch((error: Error) => process.stderr.write(`${error.message}\n`));
    rmSync(gw.dataDir, { recursive: true, force: true });
  }
}

export const benchmark: Benchmark = {
  run: bypassBench,
  method:
    'The built gateway as a process with the embedded origin; a conference of three RTMP participants (ffmpeg, 640x360@25 + tone) mapped on demand to a channel (BYPASS_IDLE_SECONDS=1). ' +
    'Each run waits until no mix runs, the channel is idle and the origin has dropped the old stream (LIVE_PUBLISH_GRACE_MS=500, +1.5 s), opens an HTTP-FLV player (Node, parsing tags) and times the arrival of its first video frame from the request. BENCH_BYPASS_RUNS runs (default 5).',
  summary: (r) => [`| play request → first frame at the player (on-demand bypass, median of ${r.playToFirstFrameMs.runsMs.length}) | ${r.playToFirstFrameMs.medianMs} ms (runs ${r.playToFirstFrameMs.runsMs.join(', ')}) | target <= 2000 ms |`],
};
