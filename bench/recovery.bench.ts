/**
 * `npm run bench -- recovery`: how fast a mixed conference comes back after a
 * mediasoup worker dies (SIGKILL), and after the gateway restarts (SIGTERM,
 * start again on the same data dir). The built gateway as a process with two
 * workers and the embedded origin; two RTMP participants (red, blue; ffmpeg,
 * 640x360@15) in a conference mapped to a channel (bypass live, immediate,
 * grid: side by side). A picture probe (ffmpeg
 * decoding the channel to 16x9 pixels) timestamps every frame and tells when
 * both colours are back; an HTTP-FLV viewer stays connected through the
 * worker deaths to see whether viewers notice anything but the cells.
 */
import type { Benchmark } from './support/benchmark';
import { ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { startGateway, workerPids } from './support/gateway';
import { freePort, isRunning, waitFor } from './support/processes';
import { FlvWatcher } from './support/viewer';

const RUNS = Number(process.env.BENCH_RECOVERY_RUNS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function push(url: string, color: string, toneHz: number): ChildProcess {
  return spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `color=c=${color}:size=640x360:rate=15`, '-f', 'lavfi', '-i', `sine=frequency=${toneHz}:sample_rate=48000`,
      '-t', '900', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', url],
    { stdio: 'ignore' },
  );
}

/** Decodes the channel to 16x9 RGB and records when each frame showed red and blue side by side. */
class PictureProbe {
  readonly child: ChildProcess;
  /** Arrival time of every frame, and whether it showed both participants. */
  readonly frames: { at: number; both: boolean }[] = [];
  /** The latest frame's two sampled pixels (for reports when nothing matches). */
  last: number[][] = [];

  constructor(url: string) {
    this.child = spawn('ffmpeg', ['-v', 'error', '-fflags', 'nobuffer', '-i', url, '-vf', 'scale=16:9', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let pending = Buffer.alloc(0);
    const size = 16 * 9 * 3;
    this.child.stdout!.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= size) {
        const frame = pending.subarray(0, size);
        pending = pending.subarray(size);
        const px = (x: number, y: number) => [frame[(y * 16 + x) * 3], frame[(y * 16 + x) * 3 + 1], frame[(y * 16 + x) * 3 + 2]];
        const red = ([r, g, b]: number[]) => r > 180 && g < 70 && b < 70;
        const blue = ([r, g, b]: number[]) => b > 180 && r < 70 && g < 70;
        const [left, right] = [px(4, 4), px(12, 4)];
        this.last = [left, right];
        // Grid order follows who joined first, which can change when they rejoin.
        this.frames.push({ at: Date.now(), both: (red(left) && blue(right)) || (blue(left) && red(right)) });
      }
    });
  }

  /** The first frame after `since` that showed both, following at least one that did not. */
  recoveredAfter(since: number): number | undefined {
    let lost = false;
    for (const f of this.frames) {
      if (f.at < since) continue;
      if (!f.both) lost = true;
      else if (lost) return f.at;
    }
    return undefined;
  }

  showsBothSince(since: number): number | undefined {
    return this.frames.find((f) => f.at >= since && f.both)?.at;
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

export async function recoveryBench(): Promise<Record<string, unknown>> {
  const [port, rtmp, http] = [await freePort(), await freePort(), await freePort()];
  const env = { LOG_LEVEL: 'warn', SFU_WORKERS: '2', EMBEDDED_RTMP_PORT: String(rtmp), EMBEDDED_HTTP_PORT: String(http), MIX_RTP_MIN_PORT: '52000', MIX_RTP_MAX_PORT: '58999' };
  let gw = await startGateway({ env, port });
  const dataDir = gw.dataDir;
  const children: ChildProcess[] = [];
  const probes: PictureProbe[] = [];
  const watchers: FlvWatcher[] = [];
  try {
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'bench-recovery' })).body;
    const conferenceId: string = (await gw.admin('POST', '/api/v1/conferences', { title: 'bench' })).body.id;
    const urls: [string, string, number][] = [];
    for (const [userId, color, tone] of [['red', '0xff0000', 440], ['blue', '0x0000ff', 1000]] as const) {
      await gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId });
      urls.push([(await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId })).body.url, color, tone]);
    }
    for (const [url, color, tone] of urls) children.push(push(url, color, tone));
    const conference = async () => (await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body;
    const bothProducing = async () => ((await conference()).participants.filter((p: { video: boolean }) => p.video).length === 2 ? true : undefined);
    await waitFor('participants', bothProducing, 30000);
    await gw.admin('PUT', `/api/v1/conferences/${conferenceId}/live`, { channelId: 'bench-recovery', onDemand: false, layout: { mode: 'grid' } });
    const probe = new PictureProbe(channel.playUrls.flv);
    probes.push(probe);
    const viewer = new FlvWatcher(channel.playUrls.flv);
    watchers.push(viewer);
    await waitFor('mixed picture', () => probe.showsBothSince(0), 30000).catch((error: Error) => {
      throw new Error(`${error.message}: ${probe.frames.length} frames, last pixels ${JSON.stringify(probe.last)}`);
    });

    // Worker deaths.
    const deaths: { rebuiltMs: number; participantsBackMs: number; pictureBackMs: number; viewerMaxGapMs: number }[] = [];
    for (let run = 0; run < RUNS; run += 1) {
      await new Promise((r) => setTimeout(r, 3000));
      const slot: number = (await conference()).workerSlots[0];
      const pid = (await workerPids(gw)).get(slot)!;
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      const rebuiltAt = await waitFor('rebuilt', async () => ((await conference()).workerSlots[0] !== slot ? Date.now() : undefined), 10000);
      await waitFor('dead', () => (isRunning(pid) ? undefined : true), 5000);
      const backAt = await waitFor('participants back', async () => ((await bothProducing()) ? Date.now() : undefined), 20000);
      const pictureAt = await waitFor('picture back', () => probe.recoveredAfter(killedAt), 30000);
      const seen = viewer.stats(killedAt, pictureAt + 500);
      deaths.push({ rebuiltMs: rebuiltAt - killedAt, participantsBackMs: backAt - killedAt, pictureBackMs: pictureAt - killedAt, viewerMaxGapMs: seen.maxGapMs });
    }
    const viewerKept = viewer.stats().connectionKept;
    const mixTaskId = (await gw.admin('GET', '/api/v1/live-map')).body[0].mixTaskId;
    const mixState = (await gw.admin('GET', `/api/v1/mix-tasks/${mixTaskId}`)).body;

    // Restart: SIGTERM, start again, participants push again at once (as OBS reconnects).
    for (const p of probes.splice(0)) p.stop();
    for (const w of watchers.splice(0)) w.stop();
    const stopAt = Date.now();
    await gw.stop('SIGTERM');
    const stoppedMs = Date.now() - stopAt;
    for (const c of children.splice(0)) c.kill('SIGKILL');
    const startAt = Date.now();
    gw = await startGateway({ env, port, dataDir });
    const readyMs = Date.now() - startAt;
    const restored = (await conference()).id === conferenceId;
    const pushedAt = Date.now();
    for (const [url, color, tone] of urls) children.push(push(url, color, tone));
    // The mapping is restored; its mix starts as the participants come back.
    await waitFor('participants', bothProducing, 30000);
    const participantsBackMs = Date.now() - pushedAt;
    const after = new PictureProbe(channel.playUrls.flv);
    probes.push(after);
    const pictureAt = await waitFor('picture after restart', () => after.showsBothSince(0), 30000);

    return {
      workerDeath: {
        runs: deaths,
        median: {
          rebuiltMs: median(deaths.map((d) => d.rebuiltMs)),
          participantsBackMs: median(deaths.map((d) => d.participantsBackMs)),
          pictureBackMs: median(deaths.map((d) => d.pictureBackMs)),
          viewerMaxGapMs: median(deaths.map((d) => d.viewerMaxGapMs)),
        },
        viewerConnectionKept: viewerKept,
        mixState: mixState.state,
        mixEncoderRestarts: mixState.stats.encoderRestarts,
      },
      restart: { stopMs: stoppedMs, readyMs, conferenceRestored: restored, participantsBackMs, pushToMixedPictureMs: pictureAt - pushedAt },
    };
  } finally {
    for (const p of probes) p.stop();
    for (const w of watchers) w.stop();
    for (const c of children) c.kill('SIGKILL');
    await gw.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export const benchmark: Benchmark = {
  run: recoveryBench,
  method:
    'The built gateway as a process (2 mediasoup workers, embedded origin). A conference of two RTMP participants (ffmpeg red/440 Hz and blue/1 kHz, 640x360@15) mapped to a channel (bypass live, immediate, grid). ' +
    'A picture probe (ffmpeg decoding the channel over HTTP-FLV to 16x9 RGB) timestamps every frame on arrival and says whether it shows red and blue side by side; an HTTP-FLV viewer (Node) stays connected through the worker deaths. ' +
    'Worker death, BENCH_RECOVERY_RUNS times (default 3): SIGKILL the worker under the conference; times from the kill until the conference is on another worker, until both participants produce again (the gateway re-ingests them), and until the probe sees both again after having lost them; the viewer\'s largest gap between frames meanwhile. ' +
    'Restart: SIGTERM, start again on the same data dir, participants push again at once (as OBS reconnects); times to stop, to ready, and from the new pushes until the restored mapping\'s mix shows both.',
  summary: (r) => [
    `| worker death → conference on another worker | median ${r.workerDeath.median.rebuiltMs} ms (runs ${r.workerDeath.runs.map((d: any) => d.rebuiltMs).join(', ')}) | |`,
    `| worker death → both participants producing again | median ${r.workerDeath.median.participantsBackMs} ms (runs ${r.workerDeath.runs.map((d: any) => d.participantsBackMs).join(', ')}) | |`,
    `| worker death → both back in the mixed picture | median ${r.workerDeath.median.pictureBackMs} ms (runs ${r.workerDeath.runs.map((d: any) => d.pictureBackMs).join(', ')}) | |`,
    `| viewer during worker deaths | connection kept: ${r.workerDeath.viewerConnectionKept ? 'yes' : 'NO'}, largest frame gap median ${r.workerDeath.median.viewerMaxGapMs} ms; the same mix ${r.workerDeath.mixState} throughout, encoder restarts ${r.workerDeath.mixEncoderRestarts} | kept, no restart |`,
    `| restart: stop (SIGTERM) / ready again | ${r.restart.stopMs} ms / ${r.restart.readyMs} ms, conference restored: ${r.restart.conferenceRestored ? 'yes' : 'NO'} | |`,
    `| restart: participants push again → both in the mixed picture | ${r.restart.pushToMixedPictureMs} ms (participants producing after ${r.restart.participantsBackMs} ms) | |`,
  ],
};
