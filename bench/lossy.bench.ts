/**
 * `npm run bench -- lossy`: WebRTC on a lossy uplink (issue 17 §2), with and
 * without the resilience the web client sends by default, side by side in one run.
 *
 * The built gateway runs in the internet namespace of a simulated network
 * (test/support/netns.ts). Bob is a Debian Chromium conference page in a client
 * namespace behind its own NAT (fake camera: blue with a frame counter, 15 fps;
 * fake microphone: a 1 kHz tone), on the SFU (`&p2p=off`). Alice is an RTMP
 * participant (red with a counter, 440 Hz) pushed from the host. A mix task
 * puts them side by side (640x360@15) on a channel, and a viewer-side probe
 * reads the channel's HTTP-FLV: every picture decoded, Bob's counter read in
 * his cell, so his own distinct pictures per second are counted by their
 * wall-clock arrival (Alice's motion cannot hide his freeze). Bob's tone is
 * measured in the same output: its power in each 100 ms block of
 * BENCH_LOSSY_SECONDS of audio, against the median of the first mode's clean phase.
 *
 * Bob's access link goes through four phases, each held for
 * BENCH_LOSSY_SECONDS (default 12) after 4 s to settle: clean, 5 % loss each
 * way, 15 % loss each way (nftables random drop: this kernel has no netem),
 * a 300 kbit/s cap each way (tbf). Three times: as the page sends by default
 * (Opus FEC, two-layer simulcast, NACK/RTX), with `&resilience=off` (one
 * layer, no FEC; NACK/RTX stay: the SFU negotiates them for every video
 * codec), and with `&dtx=on` (the default plus Opus DTX).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { grabAudio, publishTestStream, Publisher } from '../test/support/media';
import { sideBySideMix, tilesOf } from '../test/support/mix-checks';
import { LinkShape, TestNetwork } from '../test/support/netns';
import type { Benchmark, Target } from './support/benchmark';
import { counterFilters } from './support/frame-counter';
import { pcmToFloat, tonePower } from './support/media-analysis';
import { PictureProbe } from './support/picture-probe';
import { waitFor } from './support/processes';

const SECONDS = Number(process.env.BENCH_LOSSY_SECONDS ?? 12);
const SETTLE_MS = 4000;
const W = 640;
const H = 360;
const COLORS = { alice: [255, 0, 0] as [number, number, number], bob: [0, 0, 255] as [number, number, number] };
const ALL_PHASES: { name: string; shape?: LinkShape }[] = [
  { name: 'clean' },
  { name: 'loss5', shape: { lossPercent: 5 } },
  { name: 'loss15', shape: { lossPercent: 15 } },
  { name: 'cap300', shape: { rateKbit: 300 } },
];
// BENCH_LOSSY_ONLY=loss5 (or a comma list): those phases after the clean one, for a quicker look.
const PHASES = ALL_PHASES.filter((p) => !process.env.BENCH_LOSSY_ONLY || p.name === 'clean' || process.env.BENCH_LOSSY_ONLY.split(',').includes(p.name));
// resilient: as the page sends by default; plain: &resilience=off; dtx: the default plus &dtx=on.
const ALL_MODES = ['resilient', 'plain', 'dtx'] as const;
// BENCH_LOSSY_MODES=plain (or a comma list) runs those modes only; the first one run is the tone's reference.
const MODES = ALL_MODES.filter((m) => !process.env.BENCH_LOSSY_MODES || process.env.BENCH_LOSSY_MODES.split(',').includes(m));
const MODE_PARAMS: Record<(typeof ALL_MODES)[number], string> = { resilient: '', plain: '&resilience=off', dtx: '&dtx=on' };

interface PhaseFigures {
  /** Bob's own distinct pictures per second in the mix, at the viewer. */
  bobFps: number;
  /** Longest wall-clock gap between two of Bob's distinct pictures (ms). */
  bobMaxGapMs: number;
  /** The whole mix's distinct pictures per second. */
  mixFps: number;
  /** Median power of Bob's 1 kHz tone per 100 ms block, relative to the first mode's clean phase. */
  toneRatio: number;
  /** Blocks whose tone power fell under a quarter of the clean median (a drop-out), in percent. */
  toneDropoutPct: number;
  /** The simulcast layer the mixer asked for and the one arriving (resilient mode). */
  layers?: { preferred: number; current?: number };
  /** Bob's gaps over 300 ms (counters either side: consecutive = held back, a jump = pictures lost). */
  gaps: { atMs: number; ms: number; from?: number; to: number }[];
  /** Pictures per second the mixer's decoder gave for Bob at the end of the phase. */
  decodedFps?: number;
  /** Keyframes the mixer asked for because Bob's decoder lost a packet, over the phase. */
  keyframesAfterLoss?: number;
  /** Bob's page's outbound video over the phase (all layers). */
  sender: { encodedPerSecond: number; nacksPerSecond: number; plisPerSecond: number; retransmittedPerSecond: number; limitation: string; pacerDelayMs: number; availableKbps: number };
  /** The gateway's quality score for Bob at the end of the phase. */
  score?: number;
  lossPct?: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};

/** The 1 kHz tone's power in each 100 ms block of `seconds` of the output's audio. */
async function toneBlocks(url: string, seconds: number): Promise<number[]> {
  const samples = pcmToFloat(await grabAudio(url, seconds + 0.3)).subarray(Math.floor(0.3 * 48000));
  const block = 4800;
  const out: number[] = [];
  for (let i = 0; i + block <= samples.length; i += block) out.push(tonePower(samples.subarray(i, i + block), 48000, 1000));
  return out;
}

/** Bob's page's own view of what it sends: video frames encoded and sent (all layers), NACKs and PLIs it got, retransmissions, and why it limits quality. */
async function senderStats(
  page: Page,
): Promise<{ framesEncoded: number; framesSent: number; nacks: number; plis: number; retransmitted: number; limitation: string[]; packetsSent: number; sendDelaySeconds: number; availableKbps: number }> {
  return page.evaluate(async () => {
    const out = { framesEncoded: 0, framesSent: 0, nacks: 0, plis: 0, retransmitted: 0, limitation: [] as string[], packetsSent: 0, sendDelaySeconds: 0, availableKbps: 0 };
    const client = (window as unknown as { conferenceClient?: { sendTransport?: { getStats(): Promise<RTCStatsReport> } } }).conferenceClient;
    const report = await client?.sendTransport?.getStats();
    report?.forEach((s: Record<string, unknown>) => {
      if (s.type === 'candidate-pair' && s.nominated && typeof s.availableOutgoingBitrate === 'number') out.availableKbps = Math.round(s.availableOutgoingBitrate / 1000);
      if (s.type !== 'outbound-rtp' || s.kind !== 'video') return;
      out.packetsSent += Number(s.packetsSent ?? 0);
      out.sendDelaySeconds += Number(s.totalPacketSendDelay ?? 0);
      out.framesEncoded += Number(s.framesEncoded ?? 0);
      out.framesSent += Number(s.framesSent ?? 0);
      out.nacks += Number(s.nackCount ?? 0);
      out.plis += Number(s.pliCount ?? 0);
      out.retransmitted += Number(s.retransmittedPacketsSent ?? 0);
      out.limitation.push(`${s.rid ?? '-'}:${s.frameWidth ?? 0}:${s.qualityLimitationReason ?? '?'}`);
    });
    return out;
  });
}

async function lossyBench(): Promise<Record<string, unknown>> {
  const media = mkdtempSync(join(tmpdir(), 'lossy-bench-'));
  // 64 frames with a 6-bit counter: the count wraps where Chromium loops the file.
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=0x0000ff:size=640x360:rate=15', '-frames:v', '64', '-vf', counterFilters(W, H, 6), '-pix_fmt', 'yuv420p', join(media, 'bob.y4m')]);
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000', '-t', '4', join(media, 'bob.wav')]);
  const net = await TestNetwork.create();
  const browsers: Browser[] = [];
  const pushes: Publisher[] = [];
  const probes: PictureProbe[] = [];
  const results: Record<string, Record<string, PhaseFigures>> = {};
  let cleanTone = NaN;
  try {
    const gw = await net.startGateway({ env: { TURN: 'off', CONFERENCE_IDLE_SECONDS: '300', ...(process.env.BENCH_LOSSY_DEBUG ? { LOG_LEVEL: 'debug' } : {}) } });
    for (const mode of MODES) {
      const conferenceId = (await gw.admin('POST', '/api/v1/conferences', { title: `lossy ${mode}` })).body.id as string;
      for (const userId of ['alice', 'bob']) await gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId });
      const ingest = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId: 'alice' })).body.url as string;
      pushes.push(publishTestStream(ingest, { color: '0xff0000', toneHz: 440, size: '640x360', fps: 15, seconds: 300, counter: true }));
      const channel = (await gw.admin('POST', '/api/v1/channels', { id: `lossy-${mode}` })).body;
      const bob = net.addClient(`lz${mode.slice(0, 3)}`, { kind: 'eim' });
      const browser = await net.launchChromium(bob, [
        `--unsafely-treat-insecure-origin-as-secure=${gw.baseUrl}`,
        `--use-file-for-fake-video-capture=${join(media, 'bob.y4m')}`,
        `--use-file-for-fake-audio-capture=${join(media, 'bob.wav')}`,
      ]);
      browsers.push(browser);
      const page = await browser.newPage();
      const token = (await gw.admin('POST', '/api/v1/tokens', { userId: 'bob', role: 'guest' })).body.token as string;
      await page.goto(`${gw.baseUrl}/#/conference?id=${conferenceId}&token=${token}&p2p=off${MODE_PARAMS[mode]}`);
      await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'joined', undefined, { timeout: 45000 }).catch(async (error: Error) => {
        throw new Error(`${mode}: bob's page did not join (${error.message}); status ${await page.evaluate(() => document.querySelector('#status')?.textContent).catch(() => '?')}`);
      });
      await waitFor(
        'alice and bob producing',
        async () => {
          const ps = (await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body.participants as { userId: string; video: boolean; audio: boolean }[];
          return ps.filter((p) => p.video && p.audio).length === 2 || undefined;
        },
        30000,
      );
      const created = await gw.admin('POST', '/api/v1/mix-tasks', sideBySideMix(conferenceId, channel.publishUrl, 'alice', 'bob'));
      if (created.status !== 201) throw new Error(`mix task: ${created.status} ${JSON.stringify(created.body)}`);
      const task = (await gw.admin('GET', `/api/v1/mix-tasks/${created.body.id}`)).body;
      const probe = PictureProbe.flv(channel.playUrls.flv, { width: W, height: H, tiles: tilesOf(task.layout.cells, COLORS), retryForMs: 20000 });
      probes.push(probe);
      await probe.waitForShowing(['alice', 'bob'], { timeoutMs: 30000 });
      const view = async () => (await gw.admin('GET', `/api/v1/mix-tasks/${task.id}`)).body;
      const figures: Record<string, PhaseFigures> = {};
      for (const phase of PHASES) {
        if (phase.shape) net.shape(bob, phase.shape);
        else net.unshape(bob);
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        const sentBefore = await senderStats(page);
        const keyframesBefore = ((await view()).pictures?.bob?.keyframesAfterLoss as number | undefined) ?? 0;
        const from = Date.now();
        const blocks = await toneBlocks(channel.playUrls.flv, SECONDS);
        const to = Date.now();
        await probe.waitUntilArrived(to);
        const sentAfter = await senderStats(page);
        const perSecond = (n: number) => Math.round((n / ((to - from) / 1000)) * 10) / 10;
        const sender = {
          encodedPerSecond: perSecond(sentAfter.framesEncoded - sentBefore.framesEncoded),
          nacksPerSecond: perSecond(sentAfter.nacks - sentBefore.nacks),
          plisPerSecond: perSecond(sentAfter.plis - sentBefore.plis),
          retransmittedPerSecond: perSecond(sentAfter.retransmitted - sentBefore.retransmitted),
          limitation: sentAfter.limitation.join(' '),
          // How long a video packet waited in the page's pacer on average over the phase, and the page's
          // bandwidth estimate at its end.
          pacerDelayMs: Math.round(((sentAfter.sendDelaySeconds - sentBefore.sendDelaySeconds) / Math.max(1, sentAfter.packetsSent - sentBefore.packetsSent)) * 1000),
          availableKbps: sentAfter.availableKbps,
        };
        const tone = median(blocks);
        // The reference is the first mode's clean phase (the page's default), so a mode that loses the tone
        // on a clean link (DTX) shows it rather than dividing by it.
        if (phase.name === 'clean' && Number.isNaN(cleanTone)) cleanTone = tone;
        const bobRate = probe.tileRate('bob', from, to);
        // Each gap over 300 ms between two of Bob's distinct pictures, with the counters on either side:
        // consecutive counters mean his pictures were held back (none lost), a jump that some never came.
        const gaps: { atMs: number; ms: number; from?: number; to: number }[] = [];
        {
          let lastC: number | undefined;
          let lastAt = from;
          for (const f of probe.frames) {
            if (f.at < from || f.at > to || f.counters.bob === undefined || f.counters.bob === lastC) continue;
            if (f.at - lastAt > 300) gaps.push({ atMs: f.at - from, ms: f.at - lastAt, from: lastC, to: f.counters.bob });
            lastC = f.counters.bob;
            lastAt = f.at;
          }
        }
        if (process.env.BENCH_LOSSY_DEBUG) {
          // Every picture the viewer got around each gap: arrival (ms into the phase) and Bob's counter (- unreadable).
          for (const g of gaps) {
            const around = probe.frames.filter((f) => f.at - from >= g.atMs - g.ms - 150 && f.at - from <= g.atMs + 300);
            process.stderr.write(`${mode} ${phase.name} gap ${g.ms} ms: ${around.map((f) => `${f.at - from}:${f.counters.bob ?? '-'}`).join(' ')}\n`);
          }
        }
        const participants = (await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body.participants as { userId: string; quality?: { score: number; lossPct: number } }[];
        const quality = participants.find((p) => p.userId === 'bob')?.quality;
        const bobView = (await view()).pictures?.bob;
        const layers = bobView?.layers;
        figures[phase.name] = {
          bobFps: bobRate.distinctPerSecond,
          bobMaxGapMs: bobRate.maxGapMs,
          mixFps: probe.rate(from, to).distinctPerSecond,
          toneRatio: Math.round((tone / cleanTone) * 100) / 100,
          toneDropoutPct: Math.round((blocks.filter((b) => b < cleanTone / 4).length / Math.max(1, blocks.length)) * 1000) / 10,
          ...(layers ? { layers } : {}),
          decodedFps: bobView?.fps,
          gaps,
          keyframesAfterLoss: (bobView?.keyframesAfterLoss ?? 0) - keyframesBefore,
          sender,
          ...(quality ? { score: quality.score, lossPct: quality.lossPct } : {}),
        };
      }
      net.unshape(bob);
      results[mode] = figures;
      if (process.env.BENCH_LOSSY_DEBUG) {
        // The gateway's log at debug level (the decoders' ffmpeg lines among it), for a look at what broke.
        const file = join(tmpdir(), `lossy-gw-${mode}.log`);
        writeFileSync(file, gw.output());
        process.stderr.write(`gateway log: ${file}\n`);
      }
      probe.close();
      await gw.admin('DELETE', `/api/v1/mix-tasks/${task.id}`);
      await page.close();
      await browser.close();
      await pushes.pop()?.stop();
    }
    const ratios = (mode: (typeof ALL_MODES)[number]) =>
      Object.fromEntries(PHASES.filter((p) => p.shape).map((p) => [p.name, Math.round((results[mode][p.name].bobFps / results[mode].clean.bobFps) * 100) / 100]));
    return { seconds: SECONDS, phases: results, bobFpsVsClean: Object.fromEntries(MODES.map((m) => [m, ratios(m)])) };
  } finally {
    for (const p of probes) p.close();
    for (const p of pushes) await p.stop();
    for (const b of browsers) await b.close().catch(() => undefined);
    await net.destroy();
    rmSync(media, { recursive: true, force: true });
  }
}

const phaseRow = (mode: string, name: string, f: PhaseFigures, vsClean: number | undefined) =>
  `| ${mode}, ${name} | Bob ${f.bobFps} distinct fps${vsClean !== undefined ? ` (**${vsClean}x** clean)` : ''}, worst gap ${f.bobMaxGapMs} ms; mix ${f.mixFps} fps; tone ${f.toneRatio}x clean, drop-outs ${f.toneDropoutPct} %` +
  `${f.layers ? `; layer asked ${f.layers.preferred}, arriving ${f.layers.current ?? '-'}` : ''}${f.score !== undefined ? `; score ${f.score} (loss ${f.lossPct} %)` : ''}` +
  `; Bob's page encoded ${f.sender.encodedPerSecond} frames/s (all layers), got ${f.sender.nacksPerSecond} NACK/s and ${f.sender.plisPerSecond} PLI/s, resent ${f.sender.retransmittedPerSecond} packets/s, held video packets ${f.sender.pacerDelayMs} ms on average in its pacer, estimated ${f.sender.availableKbps} kbit/s; the mixer decoded ${f.decodedFps ?? '-'} fps and asked for ${f.keyframesAfterLoss ?? '-'} keyframes after a loss` +
  `${f.gaps.length ? `; gaps over 300 ms (ms, counters): ${f.gaps.map((g) => `${g.ms} ${g.from ?? '?'}→${g.to}`).join(', ')}` : ''} | |`;

export const benchmark: Benchmark = {
  run: lossyBench,
  method:
    'Simulated network (test/support/netns.ts) with the built gateway in the internet namespace. Bob: a Debian Chromium conference page behind its own NAT, on the SFU (&p2p=off), fake camera blue with a 6-bit frame counter at 15 fps, fake microphone a 1 kHz tone. Alice: an RTMP participant (red, counter, 440 Hz) pushed from the host. ' +
    'A mix task puts them side by side at 640x360@15 onto a channel; a viewer-side probe decodes the channel\'s HTTP-FLV and reads Bob\'s counter in his cell, so his distinct pictures per second are counted by wall-clock arrival at the viewer. Bob\'s tone: its power in each 100 ms block of the output\'s audio (a second reader), median against the default mode\'s clean phase, and the share of blocks under a quarter of that median (drop-outs). ' +
    'Bob\'s access link, each phase held BENCH_LOSSY_SECONDS (default 12) after 4 s to settle: clean; 5 % and 15 % random loss each way (nftables numgen: this kernel has no netem, so no delay); a 300 kbit/s cap each way (tbf, 200 ms queue). Three times in one run: the page as it sends by default (Opus in-band FEC, two-layer simulcast, NACK/RTX), with &resilience=off (one layer, no FEC; NACK/RTX stay, the SFU negotiates them for every video codec) and with &dtx=on (the default plus Opus DTX). ' +
    'The layer asked is what the mixer asked of the SFU for Bob\'s cell; arriving is the layer mediasoup forwards (lower while the sender does not send the one asked).',
  summary: (r) => [
    ...MODES.filter((mode) => r.phases[mode]).flatMap((mode) =>
      PHASES.map((p) => phaseRow(mode, p.name, r.phases[mode][p.name], p.shape ? r.bobFpsVsClean[mode][p.name] : undefined)),
    ),
  ],
  targets: (r): Target[] =>
    ['loss5', 'loss15', 'cap300'].flatMap((phase) => [
      { figure: `resilient, ${phase}: Bob's distinct fps in the mix vs clean`, value: r.bobFpsVsClean.resilient[phase] as number | undefined, unit: 'x', kind: 'min', limit: 0.95 },
      { figure: `resilient, ${phase}: Bob's tone in the mix vs clean`, value: r.phases.resilient[phase]?.toneRatio, unit: 'x', kind: 'min', limit: 0.5 },
    ]),
};
