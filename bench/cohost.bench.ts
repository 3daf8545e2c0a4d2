/**
 * `npm run bench -- cohost`: the co-hosting switch as viewers see it, on the
 * embedded origin and on an external nginx-rtmp (Debian's libnginx-mod-rtmp),
 * with the real gateway process. Per run: the host pushes (red, 440 Hz), a
 * viewer connects and stays connected, a guest is invited and accepts (both
 * then join as RTMP participants), the mix runs, the guest is kicked and the
 * channel returns to the host. Measured at the viewer: accept → first frame of
 * the mix, the largest wall-clock gap between video frames around each switch,
 * whether the connection was kept, and the largest timestamp jumps.
 */
import type { Benchmark } from './support/benchmark';
import { ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Socket } from 'socket.io-client';
import { connectAs, RunningGateway, startGateway } from './support/gateway';
import { startNginx } from './support/nginx';
import { freePort, waitFor } from './support/processes';
import { FlvWatcher, RtmpWatcher, WatchStats } from './support/viewer';

const RUNS = Number(process.env.BENCH_COHOST_RUNS ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function push(url: string, color: string, toneHz: number): ChildProcess {
  return spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `color=c=${color}:size=640x360:rate=25`, '-f', 'lavfi', '-i', `sine=frequency=${toneHz}:sample_rate=48000`,
      '-t', '120', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k', '-f', 'flv', url],
    { stdio: 'ignore' },
  );
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

interface RunResult {
  acceptToFirstMixedFrameMs?: number;
  acceptToMixOnAirMs: number;
  baseline: WatchStats;
  switchIn: WatchStats;
  switchOut: WatchStats;
}

async function oneRun(gw: RunningGateway, origin: 'embedded' | 'nginx-rtmp', run: number): Promise<RunResult> {
  const channelId = `bench${run}`;
  const channel = (await gw.admin('POST', '/api/v1/channels', { id: channelId })).body;
  const children: ChildProcess[] = [push(channel.publishUrl, '0xff0000', 440)];
  const sockets: Socket[] = [];
  const source = async () => (await gw.admin('GET', `/api/v1/channels/${channelId}`)).body.source as string;
  const viewer = origin === 'embedded' ? new FlvWatcher(channel.playUrls.flv) : new RtmpWatcher(channel.playUrls.rtmp);
  try {
    await waitFor('host on air', async () => ((await source()) === 'host' ? true : undefined), 20000);
    await waitFor('viewer playing', () => (viewer.frames.length > 25 ? true : undefined), 20000);
    const connect = async (userId: string, role: string) => {
      const socket = await connectAs(gw, userId, role, channelId);
      sockets.push(socket);
      return socket;
    };
    const host = await connect('anchor', 'host');
    const guest = await connect('guest', 'viewer');
    const invited = await host.emitWithAck('cohost:invite', { channelId, userId: 'guest' });
    const baselineFrom = Date.now() - 3000;
    const acceptedAt = Date.now();
    const accepted = await guest.emitWithAck('cohost:accept', { invitationId: invited.invitationId });
    if (!accepted.ok) throw new Error(`accept failed: ${JSON.stringify(accepted)}`);
    for (const [userId, color, tone] of [['anchor', '0xff0000', 440], ['guest', '0x0000ff', 1000]] as const) {
      const url = (await gw.admin('POST', `/api/v1/conferences/${accepted.conferenceId}/ingest`, { userId })).body.url;
      children.push(push(url, color, tone));
    }
    await waitFor('mix on air', async () => ((await source()) === 'mix' ? true : undefined), 20000);
    const mixOnAirAt = Date.now();
    await sleep(6000);
    const kickAt = Date.now();
    await host.emitWithAck('cohost:kick', { channelId, userId: 'guest' });
    await waitFor('host back on air', async () => ((await source()) === 'host' ? true : undefined), 20000);
    await sleep(3000);
    const firstConfig = viewer.configsAt.find((at) => at >= acceptedAt);
    return {
      acceptToFirstMixedFrameMs: firstConfig !== undefined ? firstConfig - acceptedAt : undefined,
      acceptToMixOnAirMs: mixOnAirAt - acceptedAt,
      baseline: viewer.stats(baselineFrom, acceptedAt),
      switchIn: viewer.stats(acceptedAt, kickAt - 1000),
      switchOut: viewer.stats(kickAt, Date.now()),
    };
  } finally {
    viewer.stop();
    for (const s of sockets) s.close();
    await Promise.all(children.map(stopChild));
    await sleep(1500);
  }
}

function summarise(runs: RunResult[]) {
  const worst = (pick: (r: RunResult) => WatchStats) => ({
    maxGapMs: Math.max(...runs.map((r) => pick(r).maxGapMs)),
    connectionKept: runs.every((r) => pick(r).connectionKept),
    maxTsStepMs: Math.max(...runs.map((r) => pick(r).maxTsStepMs)),
    maxBackwardMs: Math.min(...runs.map((r) => pick(r).maxBackwardMs)),
    gapsMs: runs.map((r) => pick(r).maxGapMs),
  });
  const firsts = runs.map((r) => r.acceptToFirstMixedFrameMs).filter((x): x is number => x !== undefined);
  return {
    runs: runs.length,
    acceptToFirstMixedFrameMs: firsts.length ? { medianMs: median(firsts), runsMs: firsts } : undefined,
    acceptToMixOnAirMs: { medianMs: median(runs.map((r) => r.acceptToMixOnAirMs)), runsMs: runs.map((r) => r.acceptToMixOnAirMs) },
    baseline: worst((r) => r.baseline),
    switchIn: worst((r) => r.switchIn),
    switchOut: worst((r) => r.switchOut),
  };
}

async function benchOrigin(origin: 'embedded' | 'nginx-rtmp') {
  const secret = 'bench-hook-secret-0123456789';
  const port = await freePort();
  const nginx = origin === 'nginx-rtmp' ? await startNginx(port, secret) : undefined;
  const env: Record<string, string> = { LOG_LEVEL: 'log', MIX_RTP_MIN_PORT: '52000', MIX_RTP_MAX_PORT: '58999' };
  if (nginx) {
    Object.assign(env, {
      LIVE_ORIGIN: `rtmp://127.0.0.1:${nginx.rtmpPort}/live`,
      LIVE_PLAY_URL: `http://127.0.0.1:${nginx.rtmpPort}/no-http-flv`,
      LIVE_HOOK_SECRET: secret,
    });
  }
  const gw = await startGateway({ env, port });
  try {
    const runs: RunResult[] = [];
    for (let run = 1; run <= RUNS; run += 1) runs.push(await oneRun(gw, origin, run));
    return summarise(runs);
  } catch (error) {
    const log = gw.output().split('\n').slice(-40).join('\n');
    throw new Error(`${origin}: ${(error as Error).message}\n--- gateway log (tail) ---\n${log}`);
  } finally {
    await gw.stop().catch((error: Error) => process.stderr.write(`${origin}: ${error.message}\n`));
    rmSync(gw.dataDir, { recursive: true, force: true });
    await nginx?.stop();
  }
}

export async function cohostBench(): Promise<Record<string, unknown>> {
  const only = process.env.BENCH_COHOST_ORIGIN;
  return {
    ...(only !== 'nginx-rtmp' ? { embedded: await benchOrigin('embedded') } : {}),
    ...(only !== 'embedded' ? { nginxRtmp: await benchOrigin('nginx-rtmp') } : {}),
  };
}

export const benchmark: Benchmark = {
  run: cohostBench,
  method:
    'The built gateway as a process, once with the embedded origin and once with nginx-rtmp (Debian libnginx-mod-rtmp) as LIVE_ORIGIN with on_publish hooks; ' +
    'BENCH_COHOST_RUNS runs each (default 3). The host pushes 640x360@25 (ffmpeg, 1 s GOP); one viewer stays connected the whole run ' +
    '(embedded: HTTP-FLV parsed in Node; nginx-rtmp: RTMP read by ffprobe, line-buffered). socket.io invite → accept (both then push RTMP into the conference), ' +
    '6 s of mix, kick → host alone. Gap = largest wall-clock gap between video frames at the viewer in the window (accept … kick−1 s) for switch-in and (kick … +3 s after the host is back) for switch-out; ' +
    'baseline = the same figure over the 3 s before accept. Timestamp step = largest difference between consecutive video timestamps; backward = most negative. ' +
    'Accept → first mixed frame = accept call to the arrival of the mix\'s codec config at the HTTP-FLV viewer.',
  summary: (r) =>
    (['embedded', 'nginxRtmp'] as const)
      .filter((o) => r[o])
      .flatMap((o) => {
        const x = r[o];
        const row = (label: string, s: any, goal: string) =>
          `| ${o}: ${label} | gap max ${s.maxGapMs} ms (runs ${s.gapsMs.join(', ')}), connection kept: ${s.connectionKept ? 'yes' : 'NO'}, ts step max ${s.maxTsStepMs} ms, backward ${s.maxBackwardMs} ms | ${goal} |`;
        return [
          x.acceptToFirstMixedFrameMs && `| ${o}: accept → first mixed frame at the viewer | median ${x.acceptToFirstMixedFrameMs.medianMs} ms (runs ${x.acceptToFirstMixedFrameMs.runsMs.join(', ')}) | target <= 1500 ms |`,
          `| ${o}: accept → channel source is the mix | median ${x.acceptToMixOnAirMs.medianMs} ms (runs ${x.acceptToMixOnAirMs.runsMs.join(', ')}) | |`,
          row('switch-in (host → mix)', x.switchIn, 'gap <= 300 ms, kept, no backward, step <= 500 ms'),
          row('switch-out (mix → host)', x.switchOut, 'gap <= 300 ms, kept, no backward, step <= 500 ms'),
          row('baseline (host only)', x.baseline, 'reference'),
        ].filter(Boolean);
      }),
};
