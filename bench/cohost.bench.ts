/**
 * `npm run bench -- cohost`: the co-hosting switch as a viewer sees it, on the
 * embedded origin and on an external nginx-rtmp (Debian's libnginx-mod-rtmp),
 * with the real gateway process. Per run: the host pushes (red, 440 Hz, frame
 * counter burned in), a viewer plays the channel and stays connected, a guest
 * is invited and accepts (both then join as RTMP participants: the host red,
 * the guest blue, counters burned in), the mix runs, the guest is kicked and
 * the channel returns to the host.
 *
 * Everything is read from the pictures the viewer decodes (picture-probe.ts),
 * stamped on arrival: accept → the first picture showing host and guest, the
 * pictures in between that show neither the host alone nor the full mix, the
 * pictures lacking the host, and the same for kick → host alone; gaps are
 * between distinct pictures. A second viewer parses the tags for what only
 * tags tell: whether timestamps step evenly and never go back.
 */
import type { Benchmark, Target } from './support/benchmark';
import { ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Socket } from 'socket.io-client';
import { buildIngestArgs } from '@gw/conference';
import { computeLayout } from '@gw/mixing';
import { connectAs, RunningGateway, startGateway } from './support/gateway';
import { colorNear, Rgb } from './support/media-analysis';
import { MixCell, sameRects, tilesFor } from './support/mix-tiles';
import { startNginx } from './support/nginx';
import { PictureProbe, ProbeFrame, RateStats } from './support/picture-probe';
import { cpuSecondsOf, freePort, waitFor } from './support/processes';
import { pushCounted, stopChild } from './support/sources';
import { FlvWatcher, RtmpWatcher } from './support/viewer';

const RUNS = Number(process.env.BENCH_COHOST_RUNS ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);

const WIDTH = 640;
const HEIGHT = 360;
const HOST = 'anchor';
const GUEST = 'guest';
const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];
const COLORS: Record<string, Rgb> = { [HOST]: RED, [GUEST]: BLUE };

type Look = 'full' | 'hostAlone' | 'neither';

/**
 * What a viewer's picture shows. `full`: host and guest, each with its colour
 * and a counter that reads. `hostAlone`: the host's picture and nothing over
 * it (where the guest's window goes, the host's own red shows). Anything else
 * (the host with an empty or placeholder window, the background, a
 * placeholder for the host, a picture the probe cannot read) is `neither`.
 */
function look(f: ProbeFrame): Look {
  const host = f.showing.includes(HOST);
  if (host && f.showing.includes(GUEST)) return 'full';
  if (host && f.colors[GUEST] && colorNear(f.colors[GUEST], RED, 50)) return 'hostAlone';
  return 'neither';
}

/** Figures of one switch: from its start to the first picture of the expected look, and what came in between. */
interface SwitchFigures {
  /** Start (accept / kick) → first picture showing what the switch leads to. */
  toTargetMs?: number;
  /** Pictures the viewer got in between that show neither the host alone nor the full mix (goal 0). */
  framesNeither: number;
  /** Pictures in the whole window that lack the host (target 0). */
  framesLackingHost: number;
  /** Pictures in the window after the first target one that do not show it (a flicker back, an unreadable picture). */
  framesOffTargetAfter: number;
  /** Largest wall-clock gap between distinct pictures in the window (ms). */
  maxDistinctGapMs: number;
  /** Where the largest gap was and what arrived inside it (picture-probe.ts). */
  worstGap: RateStats['worstGap'];
  distinctPerSecond: number;
  frames: number;
  /**
   * What the viewer saw from the start of the window to a second after the first target picture, as runs of one
   * look (ms from the window's start, pictures, distinct ones, which tiles showed, the first picture's colours).
   */
  timeline: { look: Look; showing: string; fromMs: number; toMs: number; frames: number; distinct: number; colors: string }[];
  /** From the tag-parsing viewer. */
  connectionKept: boolean;
  maxTsStepMs: number;
  maxBackwardMs: number;
}

interface RunResult {
  acceptToMixOnAirMs: number;
  /** The gateway's longest event-loop stall (prom-client's nodejs_eventloop_lag_max_seconds, reset at each scrape), ms: the 2 s before accept, and the 1.5 s after. */
  loopLagMs: { before: number; afterAccept: number };
  /** The mix task's REST cells matched the float layout computed for the probe. */
  layoutAsComputed: boolean;
  baseline: SwitchFigures;
  switchIn: SwitchFigures;
  switchOut: SwitchFigures;
  /** nginx-rtmp only: a second viewer whose ffmpeg decodes the RTMP itself (a picture stamped when decoded), side by side; distinct-picture gaps, ms. */
  decodeStamped?: { baselineGapMs: number; switchInGapMs: number; switchOutGapMs: number };
}

/** The gateway's longest event-loop stall since the last scrape, ms (scraping resets it). */
async function loopLagMs(gw: RunningGateway): Promise<number> {
  const text = await (await fetch(`${gw.baseUrl}/metrics`)).text();
  const m = /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text);
  return m ? Math.round(Number(m[1]) * 1000) : NaN;
}

function switchFigures(probe: PictureProbe, watcher: FlvWatcher | RtmpWatcher, from: number, to: number, target: Look | undefined): SwitchFigures {
  const window = probe.frames.filter((f) => f.at >= from && f.at <= to);
  const first = target ? window.find((f) => look(f) === target) : undefined;
  const before = first ? window.filter((f) => f.at < first.at) : target ? window : [];
  const after = first ? window.filter((f) => f.at > first.at) : [];
  const rate = probe.rate(from, to);
  const tags = watcher.stats(from, to);
  const timeline: SwitchFigures['timeline'] = [];
  for (const f of window.filter((w) => !first || w.at <= first.at + 1000)) {
    const l = look(f);
    const showing = f.showing.join('+');
    const last = timeline.at(-1);
    if (last && last.look === l && last.showing === showing) {
      last.toMs = f.at - from;
      last.frames += 1;
      last.distinct += f.distinct ? 1 : 0;
    } else {
      const colors = Object.entries(f.colors).map(([k, c]) => `${k} ${c.map(Math.round).join(',')}`).join('; ');
      timeline.push({ look: l, showing, fromMs: f.at - from, toMs: f.at - from, frames: 1, distinct: f.distinct ? 1 : 0, colors });
    }
  }
  return {
    timeline,
    toTargetMs: first ? first.at - from : undefined,
    framesNeither: before.filter((f) => look(f) === 'neither').length,
    framesLackingHost: window.filter((f) => !f.showing.includes(HOST)).length,
    framesOffTargetAfter: target ? after.filter((f) => look(f) !== target).length : 0,
    maxDistinctGapMs: rate.maxDistinctGapMs,
    worstGap: rate.worstGap,
    distinctPerSecond: rate.distinctPerSecond,
    frames: rate.frames,
    connectionKept: tags.connectionKept && (probe.endedAt === undefined || probe.endedAt > to),
    maxTsStepMs: tags.maxTsStepMs,
    maxBackwardMs: tags.maxBackwardMs,
  };
}

async function oneRun(gw: RunningGateway, origin: 'embedded' | 'nginx-rtmp', run: number): Promise<RunResult> {
  const channelId = `bench${run}`;
  const channel = (await gw.admin('POST', '/api/v1/channels', { id: channelId })).body;
  const children: ChildProcess[] = [pushCounted(channel.publishUrl, { color: '0xff0000', toneHz: 440, seconds: 120 })];
  const sockets: Socket[] = [];
  const source = async () => (await gw.admin('GET', `/api/v1/channels/${channelId}`)).body.source as string;
  // The co-hosting mix is a float layout the size of the host's push with the host as the main picture
  // (libs/cohost): the guest's window is known before the mix exists, so every picture is judged as it arrives.
  const computed: MixCell[] = computeLayout({ spec: { mode: 'float' }, canvas: { width: WIDTH, height: HEIGHT }, userIds: [HOST, GUEST], hostUserId: HOST });
  const scale = { output: { width: WIDTH, height: HEIGHT }, probe: { width: WIDTH, height: HEIGHT } };
  // Pictures kept for a retile should the task's real cells differ: the 8 s from before accept to the cells' read.
  const probeOptions = { width: WIDTH, height: HEIGHT, tiles: tilesFor(computed, COLORS, scale), keepPictures: 200 };
  // nginx-rtmp serves RTMP only: an ffmpeg copies its video into FLV on a pipe and each tag is stamped as it
  // arrives there, as on the embedded origin. A second viewer decodes the RTMP in ffmpeg itself (a picture
  // stamped when decoded), side by side, for comparison with earlier results measured that way.
  const probe = origin === 'embedded' ? PictureProbe.flv(channel.playUrls.flv, probeOptions) : PictureProbe.rtmp(channel.playUrls.rtmp, probeOptions);
  const decodeProbe = origin === 'embedded' ? undefined : PictureProbe.direct(channel.playUrls.rtmp, probeOptions);
  const watcher = origin === 'embedded' ? new FlvWatcher(channel.playUrls.flv) : new RtmpWatcher(channel.playUrls.rtmp);
  try {
    await waitFor('host on air', async () => ((await source()) === 'host' ? true : undefined), 20000);
    const playing = await probe.waitForShowing([HOST], { timeoutMs: 20000 });
    await probe.waitUntilArrived(playing.at + 4000, 20000);
    const connect = async (userId: string, role: string) => {
      const socket = await connectAs(gw, userId, role, channelId);
      sockets.push(socket);
      return socket;
    };
    const host = await connect(HOST, 'host');
    const guest = await connect(GUEST, 'viewer');
    const invited = await host.emitWithAck('cohost:invite', { channelId, userId: GUEST });
    // A diagnostic for the switch-in gap: does the gateway's own event loop stall while the mix starts?
    await loopLagMs(gw);
    await sleep(2000);
    const lagBefore = await loopLagMs(gw);
    const acceptedAt = Date.now();
    const lagAfter = sleep(1500).then(() => loopLagMs(gw));
    const accepted = await guest.emitWithAck('cohost:accept', { invitationId: invited.invitationId });
    if (!accepted.ok) throw new Error(`accept failed: ${JSON.stringify(accepted)}`);
    // The host is an OBS host: it keeps pushing its channel and does nothing else; that push is its picture.
    // The guest pushes into the conference with its own ingest URL.
    const url = (await gw.admin('POST', `/api/v1/conferences/${accepted.conferenceId}/ingest`, { userId: GUEST })).body.url;
    children.push(pushCounted(url, { color: '0x0000ff', toneHz: 1000, seconds: 120 }));
    await waitFor('mix on air', async () => ((await source()) === 'mix' ? true : undefined), 20000);
    const mixOnAirAt = Date.now();
    // The geometry the mix really uses, from its REST view, once both are in it.
    const mixTaskId = (await gw.admin('GET', `/api/v1/channels/${channelId}`)).body.mixTaskId as string;
    const cells = await waitFor(
      'both in the mix layout',
      async () => {
        const c = (await gw.admin('GET', `/api/v1/mix-tasks/${mixTaskId}`)).body.layout?.cells as MixCell[] | undefined;
        return c && c.length === 2 ? c : undefined;
      },
      20000,
    );
    const layoutAsComputed = cells.length === computed.length && computed.every((k) => cells.some((c) => c.userId === k.userId && sameRects([c], [k])));
    if (!layoutAsComputed) {
      probe.retile(tilesFor(cells, COLORS, scale));
      decodeProbe?.retile(tilesFor(cells, COLORS, scale));
    }
    await sleep(Math.max(0, acceptedAt + 7000 - Date.now()));
    const kickAt = Date.now();
    await host.emitWithAck('cohost:kick', { channelId, userId: GUEST });
    await waitFor('host back on air', async () => ((await source()) === 'host' ? true : undefined), 20000);
    const endAt = Date.now() + 3000;
    await probe.waitUntilArrived(endAt, 20000);
    if (decodeProbe) await decodeProbe.waitUntilArrived(endAt, 20000);
    if (process.env.BENCH_COHOST_DEBUG) {
      // Every picture from accept to 2.5 s after the mix went on air: arrival (ms after accept) and counters.
      const rows = probe.frames.filter((f) => f.at >= acceptedAt && f.at <= mixOnAirAt + 2500).map((f) => `${f.at - acceptedAt}:${f.counters[HOST] ?? '-'}/${f.counters[GUEST] ?? '-'}`);
      process.stderr.write(`${origin} run ${run}: mix on air (REST) at ${mixOnAirAt - acceptedAt} ms; pictures ${rows.join(' ')}\n`);
    }
    const gapOf = (p: PictureProbe, from: number, to: number) => switchFigures(p, watcher, from, to, undefined).maxDistinctGapMs;
    return {
      ...(decodeProbe
        ? {
            decodeStamped: {
              baselineGapMs: gapOf(decodeProbe, acceptedAt - 3000, acceptedAt),
              switchInGapMs: gapOf(decodeProbe, acceptedAt, kickAt - 1000),
              switchOutGapMs: gapOf(decodeProbe, kickAt, endAt),
            },
          }
        : {}),
      acceptToMixOnAirMs: mixOnAirAt - acceptedAt,
      loopLagMs: { before: lagBefore, afterAccept: await lagAfter },
      layoutAsComputed,
      baseline: switchFigures(probe, watcher, acceptedAt - 3000, acceptedAt, undefined),
      switchIn: switchFigures(probe, watcher, acceptedAt, kickAt - 1000, 'full'),
      switchOut: switchFigures(probe, watcher, kickAt, endAt, 'hostAlone'),
    };
  } finally {
    probe.close();
    decodeProbe?.close();
    watcher.stop();
    for (const s of sockets) s.close();
    await Promise.all(children.map(stopChild));
    await sleep(1500);
  }
}

function summarise(runs: RunResult[]) {
  const pick = (f: (r: RunResult) => SwitchFigures) => {
    const xs = runs.map(f);
    const times = xs.map((x) => x.toTargetMs).filter((x): x is number => x !== undefined);
    return {
      // Undefined when a run never reached the target look: the figure is then missed, not dropped.
      toTargetMs: times.length === runs.length ? { medianMs: median(times), maxMs: Math.max(...times), runsMs: times } : { medianMs: NaN, maxMs: NaN, runsMs: xs.map((x) => x.toTargetMs ?? null) },
      framesNeither: { max: Math.max(...xs.map((x) => x.framesNeither)), runs: xs.map((x) => x.framesNeither) },
      framesLackingHost: { max: Math.max(...xs.map((x) => x.framesLackingHost)), runs: xs.map((x) => x.framesLackingHost) },
      framesOffTargetAfter: { max: Math.max(...xs.map((x) => x.framesOffTargetAfter)), runs: xs.map((x) => x.framesOffTargetAfter) },
      timelines: xs.map((x) => x.timeline),
      maxDistinctGapMs: Math.max(...xs.map((x) => x.maxDistinctGapMs)),
      gapsMs: xs.map((x) => x.maxDistinctGapMs),
      worstGaps: xs.map((x) => x.worstGap),
      distinctPerSecond: xs.map((x) => x.distinctPerSecond),
      connectionKept: xs.every((x) => x.connectionKept),
      maxTsStepMs: Math.max(...xs.map((x) => x.maxTsStepMs)),
      maxBackwardMs: Math.min(...xs.map((x) => x.maxBackwardMs)),
    };
  };
  return {
    runs: runs.length,
    acceptToMixOnAirMs: { medianMs: median(runs.map((r) => r.acceptToMixOnAirMs)), runsMs: runs.map((r) => r.acceptToMixOnAirMs) },
    loopLagMs: { before: runs.map((r) => r.loopLagMs.before), afterAccept: runs.map((r) => r.loopLagMs.afterAccept) },
    layoutAsComputed: runs.every((r) => r.layoutAsComputed),
    baseline: pick((r) => r.baseline),
    switchIn: pick((r) => r.switchIn),
    switchOut: pick((r) => r.switchOut),
    ...(runs.every((r) => r.decodeStamped)
      ? {
          decodeStamped: {
            baselineGapsMs: runs.map((r) => r.decodeStamped!.baselineGapMs),
            switchInGapsMs: runs.map((r) => r.decodeStamped!.switchInGapMs),
            switchOutGapsMs: runs.map((r) => r.decodeStamped!.switchOutGapMs),
          },
        }
      : {}),
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

/**
 * The CPU H.264 passthrough saves: the host's push (640x360@25 baseline, as x264 ultrafast and many
 * hardware encoders send) fed into RTP by the shipped ingest arguments twice at the same time from the
 * same origin stream, once passed through and once transcoded, for BENCH_PASSTHROUGH_SECONDS (default 15).
 */
async function passthroughCpu() {
  const seconds = Number(process.env.BENCH_PASSTHROUGH_SECONDS ?? 15);
  const gw = await startGateway({ env: { LOG_LEVEL: 'warn' } });
  const children: ChildProcess[] = [];
  try {
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'passthrough' })).body;
    children.push(pushCounted(channel.publishUrl, { color: '0xff0000', toneHz: 440, seconds: seconds + 30 }));
    await waitFor('host on air', async () => ((await gw.admin('GET', '/api/v1/channels/passthrough')).body.source === 'host' ? true : undefined), 20000);
    const source = channel.publishUrl.split('?')[0];
    const base = await freePort();
    // Nobody listens on these UDP ports: the RTP is sent and dropped, which costs the same as a live transport.
    const ingest = (copyVideo: boolean, offset: number) =>
      spawn('ffmpeg', buildIngestArgs({
        source,
        audio: { port: base + offset, rtcpPort: base + offset + 1, payloadType: 100, ssrc: 1 + offset },
        video: { port: base + offset + 2, rtcpPort: base + offset + 3, payloadType: 101, ssrc: 2 + offset },
        probeMs: 500,
        copyVideo,
      }), { stdio: 'ignore' });
    const copied = ingest(true, 0);
    const transcoded = ingest(false, 10);
    children.push(copied, transcoded);
    await sleep(3000);
    const before = [cpuSecondsOf(copied.pid!), cpuSecondsOf(transcoded.pid!)];
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const wall = (performance.now() - t0) / 1000;
    const [copy, transcode] = [(cpuSecondsOf(copied.pid!) - before[0]) / wall, (cpuSecondsOf(transcoded.pid!) - before[1]) / wall];
    if (copied.exitCode !== null || transcoded.exitCode !== null) throw new Error('an ingest process ended during the measurement');
    return { seconds, passthroughCpuPerSecond: Math.round(copy * 1000) / 1000, transcodeCpuPerSecond: Math.round(transcode * 1000) / 1000, saved: Math.round((1 - copy / transcode) * 100) / 100 };
  } finally {
    await Promise.all(children.map(stopChild));
    await gw.stop().catch((error: Error) => process.stderr.write(`passthrough: ${error.message}\n`));
    rmSync(gw.dataDir, { recursive: true, force: true });
  }
}

export async function cohostBench(): Promise<Record<string, unknown>> {
  const only = process.env.BENCH_COHOST_ORIGIN;
  return {
    ...(only !== 'nginx-rtmp' ? { embedded: await benchOrigin('embedded') } : {}),
    ...(only !== 'embedded' ? { nginxRtmp: await benchOrigin('nginx-rtmp') } : {}),
    ...(only ? {} : { passthrough: await passthroughCpu() }),
  };
}

const ORIGINS = ['embedded', 'nginxRtmp'] as const;

export const benchmark: Benchmark = {
  run: cohostBench,
  method:
    'The built gateway as a process, once with the embedded origin and once with nginx-rtmp (Debian libnginx-mod-rtmp) as LIVE_ORIGIN with on_publish hooks; ' +
    'BENCH_COHOST_RUNS runs each (default 3). Every source is ffmpeg 640x360@25 (1 s GOP) with a frame counter burned in: the host pushes red to the channel; ' +
    'after socket.io invite → accept, the guest (blue) pushes RTMP into the conference with its ingest URL, while the host does nothing but keep pushing its channel, as an OBS host does (the gateway feeds that push into the conference as the host\'s picture); 7 s after accept the host kicks the guest. ' +
    'One viewer stays connected the whole run and decodes every picture (bench/support/picture-probe.ts): on the embedded origin HTTP-FLV read in Node, each picture stamped with the arrival of its tag; ' +
    'on nginx-rtmp an ffmpeg reads the RTMP and copies its video into FLV on a pipe (no decode, each packet flushed), each picture stamped with the arrival of its tag there, so both origins are stamped at data arrival (results before 2026-12-06 stamped nginx-rtmp pictures when ffmpeg decoded them; a second viewer still does, side by side, as a diagnostic). Each picture is judged by colour and a readable counter in the host\'s full picture and in the guest\'s window of the float layout ' +
    '(computed with computeLayout and checked against the mix task\'s REST layout.cells): "full" shows both; "host alone" shows the host with its own red where the window goes; anything else is "neither". ' +
    'Accept → guest visible = accept call to the arrival of the first full picture; frames neither = pictures that arrived in between that are neither host alone nor full; frames lacking the host = pictures in the window (accept … kick−1 s) without the host\'s picture. ' +
    'Switch-out: the same from the kick to the first host-alone picture, window kick … +3 s after the channel\'s source is the host again. Baseline = the 3 s before accept. ' +
    'Gap = largest wall-clock gap between distinct pictures (a counter moved) by arrival, window edges included; "at" is where the worst one began (ms into the window) and "repeats" the pictures that arrived inside it showing no new frame (0: nothing arrived, a stall on the way; more: the mix repeated its picture). A second viewer on the same URL parses tags (HTTP-FLV in Node; RTMP by ffprobe) only for the timestamp figures: ' +
    'step = largest difference between consecutive video timestamps, backward = most negative; connection kept = neither viewer\'s connection ended. ' +
    'Earlier results timed accept → the mix\'s codec config (which shows placeholders before any participant is decoded) and gaps between any two frames. ' +
    'Passthrough: the host\'s push (640x360@25, x264 baseline) read from the embedded origin by the shipped ingest arguments twice at once, H.264 passed through and transcoded, RTP out to unbound UDP ports; CPU of each over BENCH_PASSTHROUGH_SECONDS (default 15).',
  summary: (r) => [
    ...ORIGINS.filter((o) => r[o]).flatMap((o) => {
      const x = r[o];
      const ms = (v: number) => (Number.isFinite(v) ? `${v} ms` : 'not reached');
      const runsOf = (t: { runsMs: (number | null)[] }) => t.runsMs.map((v) => (v === null ? '—' : v)).join(', ');
      const gaps = (s: any) =>
        `distinct-picture gap max ${s.maxDistinctGapMs} ms (runs ${s.gapsMs.join(', ')}; at ${s.worstGaps.map((g: RateStats['worstGap']) => `${g.atMs} ms, ${g.repeats} repeats`).join(' / ')}), ${s.distinctPerSecond.join(' / ')} distinct/s, connection kept: ${s.connectionKept ? 'yes' : 'NO'}, ts step max ${s.maxTsStepMs} ms, backward ${s.maxBackwardMs} ms`;
      return [
        `| ${o}: accept → first picture at the viewer showing host and guest | median ${ms(x.switchIn.toTargetMs.medianMs)}, max ${ms(x.switchIn.toTargetMs.maxMs)} (runs ${runsOf(x.switchIn.toTargetMs)}) | target <= 1500 ms |`,
        `| ${o}: switch-in, pictures neither host alone nor full mix (accept → first full) | max ${x.switchIn.framesNeither.max} (runs ${x.switchIn.framesNeither.runs.join(', ')}) | goal 0 |`,
        `| ${o}: switch-in, pictures lacking the host (accept … kick−1 s) | max ${x.switchIn.framesLackingHost.max} (runs ${x.switchIn.framesLackingHost.runs.join(', ')}); after the first full picture, pictures not full: ${x.switchIn.framesOffTargetAfter.runs.join(', ')} | target 0 |`,
        `| ${o}: switch-in (host → mix) | ${gaps(x.switchIn)} | gap <= 100 ms, kept, no backward |`,
        `| ${o}: kick → first picture showing the host alone | median ${ms(x.switchOut.toTargetMs.medianMs)}, max ${ms(x.switchOut.toTargetMs.maxMs)} (runs ${runsOf(x.switchOut.toTargetMs)}) | |`,
        `| ${o}: switch-out, pictures neither full mix nor host alone (kick → host alone) | max ${x.switchOut.framesNeither.max} (runs ${x.switchOut.framesNeither.runs.join(', ')}) | goal 0 |`,
        `| ${o}: switch-out, pictures lacking the host | max ${x.switchOut.framesLackingHost.max} (runs ${x.switchOut.framesLackingHost.runs.join(', ')}) | target 0 |`,
        `| ${o}: switch-out (mix → host) | ${gaps(x.switchOut)} | gap <= 100 ms, kept, no backward |`,
        `| ${o}: baseline (host only, 3 s before accept) | ${gaps(x.baseline)} | reference |`,
        `| ${o}: accept → channel source is the mix (REST) | median ${x.acceptToMixOnAirMs.medianMs} ms (runs ${x.acceptToMixOnAirMs.runsMs.join(', ')}) | |`,
        ...(x.decodeStamped
          ? [`| ${o}: the same gaps at a second viewer that decodes the RTMP in ffmpeg (stamped when decoded, as results before 2026-12-06 were), side by side | baseline ${x.decodeStamped.baselineGapsMs.join(', ')} ms; switch-in ${x.decodeStamped.switchInGapsMs.join(', ')} ms; switch-out ${x.decodeStamped.switchOutGapsMs.join(', ')} ms | diagnostic |`]
          : []),
        ...(x.loopLagMs ? [`| ${o}: the gateway's longest event-loop stall, 2 s before accept / 1.5 s after (diagnostic) | runs ${x.loopLagMs.before.join(', ')} ms / ${x.loopLagMs.afterAccept.join(', ')} ms | |`] : []),
      ];
    }),
    ...(r.passthrough
      ? [`| the host's push into the SFU, CPU per second: H.264 passed through vs transcoded (same stream, same time) | ${r.passthrough.passthroughCpuPerSecond} s/s vs ${r.passthrough.transcodeCpuPerSecond} s/s: **${Math.round(r.passthrough.saved * 100)} % saved** | lower is better |`]
      : []),
  ],
  targets: (r) =>
    ORIGINS.filter((o) => r[o]).flatMap((o): Target[] => {
      const x = r[o];
      const kept = (s: any) => (s.connectionKept ? 1 : 0);
      return [
        { figure: `${o}: accept → guest visible at the viewer (median)`, value: x.switchIn.toTargetMs.medianMs, unit: 'ms', kind: 'max', limit: 1500 },
        { figure: `${o}: switch-in, pictures lacking the host (worst run)`, value: x.switchIn.framesLackingHost.max, unit: 'frames', kind: 'max', limit: 0 },
        { figure: `${o}: switch-out, pictures lacking the host (worst run)`, value: x.switchOut.framesLackingHost.max, unit: 'frames', kind: 'max', limit: 0 },
        { figure: `${o}: switch-in gap between distinct pictures`, value: x.switchIn.maxDistinctGapMs, unit: 'ms', kind: 'max', limit: 100 },
        { figure: `${o}: switch-out gap between distinct pictures`, value: x.switchOut.maxDistinctGapMs, unit: 'ms', kind: 'max', limit: 100 },
        { figure: `${o}: viewer connection kept through both switches`, value: Math.min(kept(x.switchIn), kept(x.switchOut)), unit: '', kind: 'min', limit: 1 },
        { figure: `${o}: timestamps going back at a switch`, value: -Math.min(x.switchIn.maxBackwardMs, x.switchOut.maxBackwardMs), unit: 'ms', kind: 'max', limit: 0 },
      ];
    }),
};
