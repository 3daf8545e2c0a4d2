/**
 * `npm run bench -- uplink`: the bonded host uplink (issue 17 §3, seed 000) in
 * network namespaces (bench/support/uplink-net.ts), side by side with a
 * single-path push in one run. Needs root.
 *
 * The built gateway (SRT ingest and SRTLA receiver) runs in its own
 * namespace; the host namespace runs the encoder (ffmpeg, a constant-rate SRT
 * push with the frame counter burned in) and our sender
 * (`node dist/apps/uplink/src/main.js send`) with three paths: its direct link,
 * and two helper namespaces each running our helper (`… helper`) that relays
 * its share from its own link. Each path's link is shaped (tbf rate, nftables
 * random loss); the viewer is a picture probe on the channel's HTTP-FLV in the
 * root namespace.
 *
 * 1. Bonded: after a warm-up, a steady window in which the sender's
 *    per-second figures and GET /channels/:id/uplink are sampled (shares
 *    against the paths' capacities; the lossy path's fecOnly); then helper 1's
 *    link is cut both ways mid-stream and the viewer's worst gap and distinct
 *    pictures per second are taken around the cut.
 * 2. Reference: the same encoder pushing SRT straight to the gateway's SRT
 *    port over the direct link alone (the best path, same shape), the same
 *    warm-up and window length, the same viewer measurement.
 */
import { join } from 'node:path';
import { probeMix, RED } from '../test/support/mix-checks';
import type { Benchmark, Target } from './support/benchmark';
import { counterFilters } from './support/frame-counter';
import { removeDir, RunningGateway, startGateway } from './support/gateway';
import { PictureProbe, RateStats } from './support/picture-probe';
import { freeUdpPort, waitFor } from './support/processes';
import * as net from './support/uplink-net';

const UPLINK = join(__dirname, '..', 'apps', 'uplink', 'src', 'main.js');
const W = 640;
const H = 360;
const FPS = 25;
/** The encoder's video rate (constant, x264 CBR with filler); audio adds 96 kbit/s and MPEG-TS and SRT their headers. */
const VIDEO_KBPS = Number(process.env.BENCH_UPLINK_VIDEO_KBPS ?? 1600);
const CAPS: Record<net.PathName, number> = { direct: 2400, h1: 1200, h2: 1200 };
const LOSSY: net.PathName = 'h2';
const LOSS_PERCENT = 20;
/** The path cut mid-stream: a helper carrying a share, so that what is left (the direct path) can still carry the stream. */
const CUT: net.PathName = 'h1';
/** The paths expected to carry data (the lossy one only repeats packets): each one's expected share is its capacity over their sum. */
const CARRIERS: net.PathName[] = ['direct', 'h1'];
const WARM_S = Number(process.env.BENCH_UPLINK_WARM_SECONDS ?? 10);
const STEADY_S = Number(process.env.BENCH_UPLINK_STEADY_SECONDS ?? 20);
const AFTER_CUT_S = 12;
const HELPER_PORT = 7100;
const PATHS: net.PathName[] = ['direct', 'h1', 'h2'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : NaN);
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

interface SenderLine {
  at: number;
  registered: string[];
  paths: { name: string; score: number; sharePct: number; lossPct: number; rttMs?: number; kbps: number; fecOnly: boolean; capacityKbps?: number }[];
}

interface ApiSample {
  at: number;
  paths: { address: string; sharePct: number; lossPct?: number; rttMs?: number; kbps?: number; fecOnly: boolean }[];
}

/** The encoder: solid red with the frame counter, constant-rate H.264 + AAC in MPEG-TS over SRT, in real time. */
function pushArgs(url: string, seconds: number): string[] {
  const k = `${VIDEO_KBPS}k`;
  return [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `color=c=0xff0000:size=${W}x${H}:rate=${FPS}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-vf', counterFilters(W, H),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(FPS), '-pix_fmt', 'yuv420p',
    '-b:v', k, '-minrate', k, '-maxrate', k, '-bufsize', `${Math.round(VIDEO_KBPS / 2)}k`, '-x264-params', 'nal-hrd=cbr',
    '-c:a', 'aac', '-b:a', '96k',
    '-f', 'mpegts', url,
  ];
}

const pathOf = (address: string) => PATHS.find((p) => net.PATH_ADDRESS[p] === address);

/** Samples GET /channels/:id/uplink about once a second until `until`. */
async function sampleUplink(gw: RunningGateway, id: string, until: number, out: ApiSample[]): Promise<void> {
  while (Date.now() < until) {
    const started = Date.now();
    try {
      const r = await gw.admin('GET', `/api/v1/channels/${id}/uplink`);
      if (r.status === 200) out.push({ at: started, paths: r.body.paths });
    } catch {
      // one sample missed
    }
    await sleep(Math.min(until - Date.now(), 1000 - (Date.now() - started)));
  }
}

/** The link counters' uplink bytes of every path now. */
const txAll = () => Object.fromEntries(PATHS.map((p) => [p, net.txBytes(p)])) as Record<net.PathName, number>;

const rateOf = (r: RateStats) => ({ worstGapMs: r.maxDistinctGapMs, distinctPerSecond: r.distinctPerSecond, minDistinctInASecond: r.minDistinctInASecond, frames: r.frames, worstGapAtMs: r.worstGap.atMs });

/** Resolves with when the push went on air (epoch ms), or undefined when it did not within 30 s. */
async function onAir(gw: RunningGateway, id: string): Promise<number | undefined> {
  return waitFor('the push on air', async () => ((await gw.admin('GET', `/api/v1/channels/${id}`)).body.source === 'host' ? Date.now() : undefined), 30000).catch(() => undefined);
}

/** What the gateway logged of SRT sessions since `from` (an offset into its output): pushes starting, remuxers dying, sessions ending. */
function srtEvents(gw: RunningGateway, from: number): string[] {
  return gw
    .output()
    .slice(from)
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .filter((l) => /\[Srt\].*(pushing|died|ended)/.test(l))
    .map((l) => l.replace(/^.*\[Srt\]\s*/, '').slice(0, 200))
    .slice(0, 12);
}

/** The viewer's pictures up to `until`; false when they stopped coming (the figures then run to the window's end from the last picture). */
async function arrived(probe: PictureProbe, until: number): Promise<boolean> {
  return probe.waitUntilArrived(until, 8000).then(
    () => true,
    () => false,
  );
}

async function uplinkBench(): Promise<Record<string, unknown>> {
  const started = Date.now();
  const procs: net.NsProcess[] = [];
  const probes: PictureProbe[] = [];
  let gw: RunningGateway | undefined;
  net.build();
  try {
    const netem = net.netemAvailable();
    for (const p of PATHS) net.shape(p, { rateKbit: CAPS[p], ...(p === LOSSY ? { lossPercent: LOSS_PERCENT } : {}) });
    const [srtPort, srtlaPort, listen] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
    gw = await startGateway({ host: net.GATEWAY_ADDRESS, wrapper: ['ip', 'netns', 'exec', net.NS.gw], env: { SRT_PORT: String(srtPort), SRTLA_PORT: String(srtlaPort) } });
    const pushSeconds = WARM_S + STEADY_S + AFTER_CUT_S + 40;

    /**
     * The encoder pushing `url` from the host namespace, the channel on air, a viewer decoding it and its
     * first picture, then WARM_S seconds to settle. A push that fails is measured all the same (its viewer
     * sees nothing): the figures say so.
     */
    const gateway = gw;
    const viewedPush = async (channelId: string, url: string, flv: string) => {
      const push = net.exec(net.NS.host, 'ffmpeg', pushArgs(url, pushSeconds));
      procs.push(push);
      const pushedAt = Date.now();
      const onAirAt = await onAir(gateway, channelId);
      const probe = probeMix(flv, W, H, [{ userId: 'host', x: 0, y: 0, width: W, height: H }], { host: RED });
      probes.push(probe);
      const first = onAirAt === undefined ? undefined : await probe.waitForShowing(['host'], { timeoutMs: 20000 }).catch(() => undefined);
      await sleep(WARM_S * 1000);
      return { push, pushedAt, onAirAt, probe, first };
    };

    // 1. Bonded: two helpers, the sender with three paths, the encoder into the sender.
    const bond = (await gw.admin('POST', '/api/v1/channels', { id: 'uplinkbond' })).body;
    for (const h of ['h1', 'h2'] as const) {
      procs.push(net.exec(net.NS[h], process.execPath, [UPLINK, 'helper', '--listen', `${net.HELPER[h].lan}:${HELPER_PORT}`, '--allowance-mb', '4000', '--bind', net.HELPER[h].wan]));
    }
    await sleep(500);
    const lines: SenderLine[] = [];
    const sender = net.exec(
      net.NS.host,
      process.execPath,
      [UPLINK, 'send', '--listen', `127.0.0.1:${listen}`, '--to', `${net.GATEWAY_ADDRESS}:${srtlaPort}`, '--path', `direct=${net.PATH_ADDRESS.direct}`,
        '--helper', `h1=${net.HELPER.h1.lan}:${HELPER_PORT}`, '--helper', `h2=${net.HELPER.h2.lan}:${HELPER_PORT}`],
      (line) => {
        try {
          lines.push(JSON.parse(line));
        } catch {
          // not a figures line
        }
      },
    );
    procs.push(sender);
    await waitFor('three paths registered', () => (lines.at(-1)?.registered.length === 3 ? true : undefined), 15000).catch((e: Error) => {
      throw new Error(`${e.message}: ${sender.output()}`);
    });
    const bondLog = gw.output().length;
    const {
      push: bondPush,
      pushedAt,
      onAirAt: bondOnAir,
      probe: bondProbe,
      first: bondFirst,
    } = await viewedPush('uplinkbond', `srt://127.0.0.1:${listen}?streamid=${bond.ingest.srtla.streamId}`, bond.playUrls.flv);

    const steadyFrom = Date.now();
    const api: ApiSample[] = [];
    const txBefore = txAll();
    await sampleUplink(gw, 'uplinkbond', steadyFrom + STEADY_S * 1000, api);
    const txAfter = txAll();
    const steadyTo = Date.now();

    net.cut(CUT);
    const cutAt = Date.now();
    const apiAfterCut: ApiSample[] = [];
    await sampleUplink(gw, 'uplinkbond', cutAt + AFTER_CUT_S * 1000, apiAfterCut);
    const cutTo = cutAt + AFTER_CUT_S * 1000;
    const bondArrived = await arrived(bondProbe, cutTo);
    const bondSteadyRate = bondProbe.rate(steadyFrom, steadyTo);
    const bondCutRate = bondProbe.rate(cutAt - 1000, cutTo);
    const bondWholeRate = bondProbe.rate(steadyFrom, cutTo);

    const steadyLines = lines.filter((l) => l.at >= steadyFrom && l.at <= steadyTo);
    const afterCutLines = lines.filter((l) => l.at > cutAt && l.at <= cutTo);
    const downAt = afterCutLines.find((l) => !l.registered.includes(CUT))?.at;
    const capSum = CARRIERS.reduce((s, p) => s + CAPS[p], 0);
    const seconds = (steadyTo - steadyFrom) / 1000;
    const paths = Object.fromEntries(
      PATHS.map((p) => {
        const mine = steadyLines.map((l) => l.paths.find((x) => x.name === p)!).filter(Boolean);
        const theirs = api.map((s) => s.paths.find((x) => pathOf(x.address) === p)).filter((x) => x !== undefined);
        const expectedSharePct = CARRIERS.includes(p) ? round((CAPS[p] / capSum) * 100) : 0;
        const sharePct = round(mean(mine.map((x) => x.sharePct)));
        const deviationPct = expectedSharePct ? round((Math.abs(sharePct - expectedSharePct) / expectedSharePct) * 100) : undefined;
        return [
          p,
          {
            address: net.PATH_ADDRESS[p],
            capacityKbit: CAPS[p],
            lossPercent: p === LOSSY ? LOSS_PERCENT : 0,
            expectedSharePct,
            sharePct,
            deviationPoints: round(sharePct - expectedSharePct),
            deviationPct,
            withinTolerance: deviationPct === undefined ? undefined : deviationPct <= 15,
            sender: {
              meanScore: round(mean(mine.map((x) => x.score))),
              meanKbps: Math.round(mean(mine.map((x) => x.kbps))),
              meanLossPct: round(mean(mine.map((x) => x.lossPct))),
              meanRttMs: round(mean(mine.filter((x) => x.rttMs !== undefined).map((x) => x.rttMs!))),
              fecOnlyPctOfReports: round((mine.filter((x) => x.fecOnly).length / mine.length) * 100),
              // What its probe trains measured the path's capacity at (undefined: no train came back enough to tell).
              meanCapacityKbps: Math.round(mean(mine.filter((x) => x.capacityKbps !== undefined).map((x) => x.capacityKbps!))),
              reports: mine.length,
            },
            api: {
              meanSharePct: round(mean(theirs.map((x) => x.sharePct))),
              meanKbps: Math.round(mean(theirs.map((x) => x.kbps ?? NaN))),
              meanLossPct: round(mean(theirs.filter((x) => x.lossPct !== undefined).map((x) => x.lossPct!))),
              meanRttMs: round(mean(theirs.filter((x) => x.rttMs !== undefined).map((x) => x.rttMs!))),
              // No samples (nothing arrived over the uplink): not measured, rather than 0 %.
              fecOnlyPctOfSamples: round((theirs.filter((x) => x.fecOnly).length / theirs.length) * 100),
              samples: theirs.length,
            },
            linkKbps: Math.round(((txAfter[p] - txBefore[p]) * 8) / 1000 / seconds),
          },
        ];
      }),
    ) as unknown as Record<net.PathName, { deviationPct?: number; sender: { fecOnlyPctOfReports: number }; api: { fecOnlyPctOfSamples: number } }>;
    const lastAfterCut = afterCutLines.slice(-5);
    const sharesAfterCut = Object.fromEntries(PATHS.map((p) => [p, round(mean(lastAfterCut.map((l) => l.paths.find((x) => x.name === p)?.sharePct ?? NaN)))]));
    const bondedKbps = Math.round(mean(steadyLines.map((l) => l.paths.reduce((s, x) => s + x.kbps, 0))));

    const bondEncoderExited = bondPush.child.exitCode !== null || bondPush.child.signalCode !== null;
    const bondEncoderLog = bondPush.output().trim().split('\n').slice(-2).join(' | ').slice(0, 300);
    const timeline = lines
      .filter((l) => l.at >= pushedAt - 1000 && l.at <= cutTo)
      .map((l) => ({ t: round((l.at - cutAt) / 1000), registered: l.registered.length, paths: Object.fromEntries(l.paths.map((x) => [x.name, `score ${x.score} share ${x.sharePct} % ${x.kbps} kbit/s loss ${x.lossPct} %${x.fecOnly ? ' fecOnly' : ''}`])) }));
    const bondEvents = srtEvents(gw, bondLog);
    for (const p of [bondPush, sender, ...procs.filter((x) => x !== bondPush && x !== sender)]) await p.stop();
    procs.length = 0;
    bondProbe.close();
    net.uncut(CUT);

    // 2. Reference: one plain SRT push over the direct path alone, same windows, same viewer.
    const ref = (await gw.admin('POST', '/api/v1/channels', { id: 'uplinkref' })).body;
    const refLog = gw.output().length;
    const { push: refPush, pushedAt: refPushedAt, onAirAt: refOnAir, probe: refProbe, first: refFirst } = await viewedPush('uplinkref', ref.ingest.srt, ref.playUrls.flv);
    const refFrom = Date.now();
    const refTxBefore = net.txBytes('direct');
    const refApi: ApiSample[] = [];
    await sampleUplink(gw, 'uplinkref', refFrom + (steadyTo - steadyFrom), refApi);
    const refMid = Date.now();
    await sleep(cutTo - cutAt);
    const refTo = Date.now();
    const refKbps = Math.round(((net.txBytes('direct') - refTxBefore) * 8) / (refTo - refFrom));
    const refArrived = await arrived(refProbe, refTo);
    const refSteadyRate = refProbe.rate(refFrom, refMid);
    const refLateRate = refProbe.rate(refMid - 1000, refTo);
    const refWholeRate = refProbe.rate(refFrom, refTo);
    const refEvents = srtEvents(gw, refLog);
    await refPush.stop();
    procs.length = 0;
    refProbe.close();

    const lossy = paths[LOSSY];
    return {
      caps: CAPS,
      lossyPath: LOSSY,
      lossPercent: LOSS_PERCENT,
      cutPath: CUT,
      videoKbps: VIDEO_KBPS,
      netem,
      windows: { warmSeconds: WARM_S, steadySeconds: round(seconds), afterCutSeconds: AFTER_CUT_S },
      bonded: {
        onAirAfterMs: bondOnAir === undefined ? undefined : bondOnAir - pushedAt,
        firstPictureAfterMs: bondFirst === undefined ? undefined : bondFirst.at - pushedAt,
        viewerPicturesToTheEnd: bondArrived,
        viewerPictures: bondProbe.frames.length,
        encoderExited: bondEncoderExited,
        encoderLog: bondEncoderLog,
        gatewaySrtEvents: bondEvents,
        paths,
        sumOfPathKbps: bondedKbps,
        sumOfLinkKbps: Math.round(PATHS.reduce((sum, p) => sum + ((txAfter[p] - txBefore[p]) * 8) / 1000 / seconds, 0)),
        maxShareDeviationPct: Math.max(...CARRIERS.map((p) => paths[p].deviationPct ?? NaN)),
        lossyFecOnlyPctOfApiSamples: lossy.api.fecOnlyPctOfSamples,
        lossyFecOnlyPctOfSenderReports: lossy.sender.fecOnlyPctOfReports,
        cut: {
          senderMarkedDownAfterMs: downAt === undefined ? undefined : downAt - cutAt,
          sharesAfterCutPct: sharesAfterCut,
          ...rateOf(bondCutRate),
        },
        steady: rateOf(bondSteadyRate),
        whole: rateOf(bondWholeRate),
        senderTimeline: timeline,
      },
      reference: {
        path: 'direct',
        onAirAfterMs: refOnAir === undefined ? undefined : refOnAir - refPushedAt,
        firstPictureAfterMs: refFirst === undefined ? undefined : refFirst.at - refPushedAt,
        viewerPicturesToTheEnd: refArrived,
        gatewaySrtEvents: refEvents,
        kbps: refKbps,
        uplink: refApi.at(-1)?.paths,
        steady: rateOf(refSteadyRate),
        last: rateOf(refLateRate),
        whole: rateOf(refWholeRate),
      },
      durationSeconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    for (const p of probes) p.close();
    for (const p of procs) await p.stop().catch(() => undefined);
    if (gw) {
      await gw.stop().catch((error: Error) => process.stderr.write(`uplink bench: ${error.message}\n`));
      removeDir(gw.dataDir);
    }
    net.clear();
  }
}

const ms = (n: number | undefined) => (n === undefined || n === null || !Number.isFinite(n) ? 'n/a' : `${Math.round(n)} ms`);
/** A figure as stored (NaN is stored as null): 'n/a' when there was nothing to measure. */
const fig = (n: number | null | undefined, unit = '') => (n === undefined || n === null || !Number.isFinite(n) ? 'n/a' : `${n}${unit}`);

export const benchmark: Benchmark = {
  run: uplinkBench,
  method:
    'Network namespaces (bench/support/uplink-net.ts, 10.73.0.0/16, names gwup-*): the built gateway (SRT ingest, SRTLA receiver) in its own namespace; a host namespace running the encoder (ffmpeg: solid red with the frame counter, x264 CBR at BENCH_UPLINK_VIDEO_KBPS, default 1600 kbit/s, with filler, 25 fps, 1 s GOP, AAC 96 kbit/s, MPEG-TS over SRT, default latency) and our sender (node dist/apps/uplink/src/main.js send) with three paths: its direct link to the gateway, and two helper namespaces reached over the host\'s LAN, each running our helper (… helper --bind <its own link>), which relays its share from its own link. The sender weighs each path by its score × the capacity its probe trains measure (12 data-sized keepalives back to back every 4 s, echoed by the receiver; since 2026-12-06: before, by score alone, and equal scores split the stream evenly whatever the capacities). ' +
    'Each path\'s own link is shaped both ways: direct 2400 kbit/s, helper 1 1200 kbit/s, helper 2 1200 kbit/s plus 20 % loss; rate with a tbf qdisc (bucket 20 ms of the rate, queue 200 ms), loss with an nftables rule `numgen random mod 100 < 20 drop` each way. This kernel has no netem qdisc, so no delay is added: every round trip is the sub-millisecond veth one plus what the tbf queues hold. ' +
    'Shares: after a warm-up (BENCH_UPLINK_WARM_SECONDS, default 10 s), the sender\'s per-second figures (sharePct: its share of the unique data packets) are averaged over a steady window (BENCH_UPLINK_STEADY_SECONDS, default 20 s) while GET /channels/:id/uplink is sampled every second (its sharePct counts every data packet a link brought, copies included). The expected share of a path is its capacity over the sum of the capacities of the paths that carry data (direct and helper 1: 66.7 % and 33.3 %; the lossy helper 2 is expected to carry only copies, 0 %); the deviation is relative, |measured − expected| / expected, and the target holds the larger of the two carriers\' deviations to 15 %. The lossy path\'s fecOnly is the share of the steady window\'s GET /uplink samples that flag it (the sender\'s own flag is listed too). The link counters give each path\'s carried kbit/s (copies and retransmissions included). ' +
    'Cut: helper 1\'s own link then drops every packet both ways (nftables), mid-stream; the viewer (a picture probe on the channel\'s HTTP-FLV in the root namespace, stamping each picture with its arrival) gives the worst gap between distinct pictures and the distinct pictures per second from 1 s before the cut to 12 s after it. The direct path is not the one cut: what is left would be helper 1 alone, below the stream\'s rate. ' +
    'Reference, in the same run: the same encoder pushing SRT straight to the gateway\'s SRT port over the direct link alone (the best path, same shape), the same warm-up, the same window lengths, the same viewer measurement (no cut: cutting its only path ends the stream).',
  summary: (r) => {
    const b = r.bonded;
    const names: Record<string, string> = { direct: 'direct', h1: 'helper 1', h2: 'helper 2 (20 % loss)' };
    const events = (xs: string[]) => (xs.length ? xs.join('; ') : 'none');
    return [
      `| bonded push: on air / first picture at the viewer | ${ms(b.onAirAfterMs)} / ${ms(b.firstPictureAfterMs)} after the encoder started; ${b.viewerPictures} pictures in all${b.viewerPicturesToTheEnd ? '' : ' (**the pictures stopped before the end of the windows**)'}; encoder ${b.encoderExited ? `**exited**: ${b.encoderLog}` : 'still pushing'}; gateway: ${events(b.gatewaySrtEvents)} | on air throughout |`,
      `| bonded, steady window: kbit/s the sender reports / the links carried (copies, retransmissions) vs the single path | ${b.sumOfPathKbps} / ${b.sumOfLinkKbps} vs ${r.reference.kbps} | |`,
      ...(['direct', 'h1', 'h2'] as const).map((p) => {
        const x = b.paths[p];
        const dev = x.deviationPct === undefined ? '' : `; deviation ${x.deviationPoints >= 0 ? '+' : ''}${x.deviationPoints} points = ${x.deviationPct} % of expected (${x.withinTolerance ? 'within' : '**outside**'} ±15 %)`;
        return `| share, ${names[p]} (${x.capacityKbit} kbit/s) | ${fig(x.sharePct, ' %')} of unique packets (sender), expected ${x.expectedSharePct} %${dev}; GET /uplink ${fig(x.api.meanSharePct, ' %')} (${x.api.samples} samples), ${fig(x.api.meanKbps, ' kbit/s')}, loss ${fig(x.api.meanLossPct, ' %')}, fecOnly in ${fig(x.api.fecOnlyPctOfSamples, ' %')} of samples; sender score ${fig(x.sender.meanScore)}, capacity by its probe trains ${fig(x.sender.meanCapacityKbps, ' kbit/s')}, fecOnly in ${fig(x.sender.fecOnlyPctOfReports, ' %')} of reports; link ${fig(x.linkKbps, ' kbit/s')} | ${x.expectedSharePct ? 'capacity share ±15 %' : 'copies only (0 %)'} |`;
      }),
      `| lossy path carries only FEC (fecOnly, GET /uplink samples) | ${fig(b.lossyFecOnlyPctOfApiSamples, ' %')} of samples (sender's flag: ${fig(b.lossyFecOnlyPctOfSenderReports, ' %')} of reports) | 100 % |`,
      `| bonded, cut of helper 1: worst viewer gap / distinct fps (-1 s … +12 s) | **${ms(b.cut.worstGapMs)}** / ${b.cut.distinctPerSecond} fps (fewest in a second ${b.cut.minDistinctInASecond}); sender marked it down after ${ms(b.cut.senderMarkedDownAfterMs)}; shares after: ${Object.entries(b.cut.sharesAfterCutPct).map(([k, v]) => `${k} ${v} %`).join(', ')} | ≤ 500 ms |`,
      `| bonded, steady window: worst gap / distinct fps | ${ms(b.steady.worstGapMs)} / ${b.steady.distinctPerSecond} fps | |`,
      `| bonded, whole window (steady + cut): worst gap / distinct fps | ${ms(b.whole.worstGapMs)} / ${b.whole.distinctPerSecond} fps | |`,
      `| single-path SRT push over direct alone (${r.reference.kbps} kbit/s on the link), same windows: worst gap / distinct fps | ${ms(r.reference.whole.worstGapMs)} / ${r.reference.whole.distinctPerSecond} fps (steady part ${ms(r.reference.steady.worstGapMs)} / ${r.reference.steady.distinctPerSecond} fps; last ${AFTER_CUT_S + 1} s ${ms(r.reference.last.worstGapMs)} / ${r.reference.last.distinctPerSecond} fps) | side by side |`,
    ];
  },
  targets: (r): Target[] => [
    { figure: 'share deviation from the capacity share, worst carrier (relative)', value: r.bonded.maxShareDeviationPct, unit: '%', kind: 'max', limit: 15 },
    { figure: 'lossy path (20 % loss) fecOnly, share of GET /uplink samples', value: r.bonded.lossyFecOnlyPctOfApiSamples, unit: '%', kind: 'min', limit: 100 },
    { figure: 'worst viewer gap around the cut of one path', value: r.bonded.cut.worstGapMs, unit: 'ms', kind: 'max', limit: 500 },
  ],
};
