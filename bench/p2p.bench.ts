/**
 * `npm run bench -- p2p` (issue 18, seed 002): what viewers sharing the
 * stream save the origin. One channel, one host pushing 640x360@25 at about
 * 1.2 Mbit/s; BENCH_P2P_VIEWERS viewer pages (default 4) in Debian's Chromium,
 * first origin-only (the same page and player, `mode=hls`), then sharing at
 * several s, side by side in one run.
 */
import { ChildProcess, spawn } from 'node:child_process';
import type { Page } from 'playwright-core';
import { Benchmark } from './support/benchmark';
import { launchChromium } from './support/chromium';
import { removeDir, startGateway } from './support/gateway';
import { freeTcpUdpPort, waitFor } from './support/processes';
import { openViewer, viewerState, ViewerState } from './support/swarm-viewers';

const RED: [number, number, number] = [230, 30, 30];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

interface Scenario {
  mode: 'hls' | 'p2p';
  s?: number;
  viewers: number;
  seconds: number;
  originKbitPerViewer: number;
  peerShareBytes?: number;
  peerShareBlocks?: number;
  idealShare?: number;
  startupMsMedian: number;
  startupMsMax: number;
  stalls: number;
  rejectedBlocks: number;
}

export async function p2pBench(): Promise<Record<string, unknown>> {
  const viewers = Number(process.env.BENCH_P2P_VIEWERS ?? 4);
  const seconds = Number(process.env.BENCH_P2P_SECONDS ?? 20);
  const sizes = [2, 3, 4].filter((s) => s <= viewers);
  const gw = await startGateway({ env: { TURN: 'embedded', TURN_PORT: String(await freeTcpUdpPort()), LOG_LEVEL: 'warn' } });
  let host: ChildProcess | undefined;
  const browser = await launchChromium();
  try {
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'p2pbench' })).body;
    // Red with moving noise: it does not compress away, and its mean colour tells the channel's picture from a blank one.
    host = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'color=c=0xff0000:size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-vf', 'noise=alls=30:allf=t', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-b:v', '1200k', '-maxrate', '1200k', '-bufsize', '1200k', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '96k', '-t', '900', '-f', 'flv', channel.publishUrl], { stdio: 'ignore' });
    await waitFor('a first segment', async () => ((await fetch(`${gw.baseUrl}/hls/p2pbench/plain.m3u8`)).status === 200 ? true : undefined), 20000);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const scenarios: Scenario[] = [];
    for (const s of [undefined, ...sizes]) {
      if (s !== undefined) await gw.admin('PUT', '/api/v1/channels/p2pbench/p2p', { substreams: s, group: 1 });
      const mode = s === undefined ? 'hls' : 'p2p';
      const pages: Page[] = [];
      const opened: number[] = [];
      for (let i = 0; i < viewers; i += 1) {
        const token = (await gw.admin('POST', '/api/v1/tokens', { userId: `bench${s ?? 0}-${i}`, role: 'viewer', channelId: 'p2pbench' })).body.token;
        opened.push(Date.now());
        pages.push(await openViewer(browser, gw, 'p2pbench', token, { mode, expect: RED }));
      }
      const states = () => Promise.all(pages.map((p) => viewerState(p)));
      const started = await waitFor('every viewer shows the picture', async () => {
        const now = await states();
        return now.every((v) => v.firstPictureAt !== undefined) ? now : undefined;
      }, 40000);
      const startups = started.map((v, i) => v.firstPictureAt! - opened[i]);
      // Settle (peers connect, the swarm re-plans as viewers arrive), then measure a window.
      await new Promise((resolve) => setTimeout(resolve, 5000));
      const served0 = (await gw.admin('GET', '/api/v1/channels/p2pbench/p2p')).body.originMediaBytes as number;
      const before: ViewerState[] = await states();
      const t0 = Date.now();
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      const after: ViewerState[] = await states();
      const served1 = (await gw.admin('GET', '/api/v1/channels/p2pbench/p2p')).body.originMediaBytes as number;
      const elapsed = (Date.now() - t0) / 1000;
      const sum = (k: 'bytesFromPeers' | 'bytesFromOrigin' | 'blocksFromPeers' | 'blocksFromOrigin' | 'rejectedBlocks') => after.reduce((n, v, i) => n + (v.swarm?.[k] ?? 0) - (before[i].swarm?.[k] ?? 0), 0);
      const scenario: Scenario = {
        mode,
        viewers,
        seconds: Math.round(elapsed),
        originKbitPerViewer: Math.round(((served1 - served0) * 8) / 1000 / elapsed / viewers),
        startupMsMedian: median(startups),
        startupMsMax: Math.max(...startups),
        stalls: after.reduce((n, v, i) => n + v.stalls - before[i].stalls, 0),
        rejectedBlocks: sum('rejectedBlocks'),
      };
      if (s !== undefined) {
        scenario.s = (await gw.admin('GET', '/api/v1/channels/p2pbench/p2p')).body.s;
        scenario.peerShareBytes = Math.round((1000 * sum('bytesFromPeers')) / (sum('bytesFromPeers') + sum('bytesFromOrigin'))) / 1000;
        scenario.peerShareBlocks = Math.round((1000 * sum('blocksFromPeers')) / (sum('blocksFromPeers') + sum('blocksFromOrigin'))) / 1000;
        scenario.idealShare = Math.round((1000 * (scenario.s! - 1)) / scenario.s!) / 1000;
      }
      scenarios.push(scenario);
      process.stdout.write(`${JSON.stringify(scenario)}\n`);
      for (const p of pages) await p.close();
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
    const base = scenarios[0].originKbitPerViewer;
    return { viewers, scenarios: scenarios.map((sc) => ({ ...sc, egressRatio: Math.round((1000 * sc.originKbitPerViewer) / base) / 1000 })) };
  } finally {
    await browser.close();
    host?.kill('SIGTERM');
    await gw.stop();
    removeDir(gw.dataDir);
  }
}

const label = (sc: any) => (sc.mode === 'hls' ? 'origin only (hls.js)' : `shared, s = ${sc.s}`);

export const benchmark: Benchmark = {
  run: p2pBench,
  method:
    'The built gateway as a process (embedded origin, embedded TURN), one channel; the host is ffmpeg pushing red 640x360@25 with moving noise (so it does not compress away) at 1.2 Mbit/s, 1 s GOP, and a 440 Hz tone. ' +
    'BENCH_P2P_VIEWERS viewer pages (default 4) of the gateway\'s own viewer page in one Debian Chromium, each its own token and socket: first origin-only (mode=hls: the same hls.js player, every segment from the origin), then sharing (mode=p2p) with the channel set to s = 2, 3, 4 sub-streams (PUT /channels/:id/p2p), one after the other in one run, fresh pages each time. ' +
    'Startup: wall clock from opening the page to the first video frame whose mean colour is the host\'s red (requestVideoFrameCallback in the page). Then 5 s to settle and a BENCH_P2P_SECONDS window (default 20): ' +
    'origin egress per viewer is the media bytes the gateway served for the channel\'s HLS and blocks in the window (its own counter, GET /channels/:id/p2p originMediaBytes; playlists and the block index are not counted), over the window and the viewers; ' +
    'the share from peers is what the pages counted (bytes and blocks that passed the hash check, from peers vs from the origin); stalls are the players\' waiting events after playback began. Egress ratio: against origin-only in the same run.',
  summary: (r) => [
    '| scenario | origin egress per viewer | vs origin only | from peers (bytes / blocks; ideal) | startup median / max | stalls | bad blocks |',
    '|---|---|---|---|---|---|---|',
    ...(r.scenarios ?? []).map(
      (sc: any) =>
        `| ${label(sc)} | ${sc.originKbitPerViewer} kbit/s | ${sc.egressRatio}x | ${sc.mode === 'hls' ? '–' : `${Math.round(sc.peerShareBytes * 100)} % / ${Math.round(sc.peerShareBlocks * 100)} % (${Math.round(sc.idealShare * 100)} %)`} | ${sc.startupMsMedian} / ${sc.startupMsMax} ms | ${sc.stalls} | ${sc.rejectedBlocks} |`,
    ),
  ],
  targets: (r) => {
    const shared = (r.scenarios ?? []).filter((sc: any) => sc.mode === 'p2p');
    return [
      ...shared.map((sc: any) => ({ figure: `share from peers at s = ${sc.s} (bytes), of the ideal (s−1)/s`, value: Math.round((100 * sc.peerShareBytes) / sc.idealShare) / 100, unit: 'x', kind: 'min' as const, limit: 0.9 })),
      ...shared.map((sc: any) => ({ figure: `origin egress per viewer at s = ${sc.s}, vs origin only`, value: sc.egressRatio, unit: 'x', kind: 'max' as const, limit: Math.round((1 / sc.s + 0.1) * 100) / 100 })),
      ...(r.scenarios ?? []).map((sc: any) => ({ figure: `stalls, ${label(sc)}`, value: sc.stalls, unit: '', kind: 'max' as const, limit: 0 })),
    ];
  },
};
