/**
 * `npm run bench -- clientmix`: server CPU per co-hosting session with client-
 * side mixing next to server-side mixing, in one run with the same session.
 * The built gateway as a process (embedded origin); the host pushes its
 * channel (ffmpeg 640x360@25, so both modes mix at that size); host and guest
 * pages run in Debian's headless Chromium with fake devices. Client mode is
 * measured first (the host page composes, the gateway only packages), then the
 * host switches to server mode in the same session and it is measured again.
 * CPU = user+system seconds of the gateway and all its descendants (mediasoup
 * workers, origin, ffmpeg) per wall second, over the measuring window.
 */
import type { Benchmark } from './support/benchmark';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';
import { cpuSecondsOf } from './support/processes';
import { startGateway } from './support/gateway';
import { descendantPids, waitFor } from './support/processes';

const MEASURE_MS = Number(process.env.BENCH_CLIENTMIX_SECONDS ?? 15) * 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function launch(video: string, audio: string): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required', `--use-file-for-fake-video-capture=${video}`, `--use-file-for-fake-audio-capture=${audio}`],
  });
}

/** CPU seconds per wall second of `root` and its descendants over `ms`. */
async function cpuRate(root: number, ms: number): Promise<number> {
  const pids = () => [root, ...descendantPids(root)];
  const before = new Map(pids().map((p) => [p, cpuSecondsOf(p)]));
  const started = Date.now();
  await sleep(ms);
  let cpu = 0;
  for (const pid of pids()) cpu += cpuSecondsOf(pid) - (before.get(pid) ?? 0);
  return Math.round((cpu / ((Date.now() - started) / 1000)) * 1000) / 1000;
}

export async function clientMixBench(): Promise<Record<string, unknown>> {
  const media = mkdtempSync(join(tmpdir(), 'bench-fake-'));
  const make = (args: string[]) => execFileSync('ffmpeg', ['-v', 'error', ...args]);
  make(['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-t', '4', '-pix_fmt', 'yuv420p', join(media, 'host.y4m')]);
  make(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '4', join(media, 'host.wav')]);
  make(['-f', 'lavfi', '-i', 'smptebars=size=640x360:rate=25', '-t', '4', '-pix_fmt', 'yuv420p', join(media, 'guest.y4m')]);
  make(['-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000', '-t', '4', join(media, 'guest.wav')]);
  const gw = await startGateway({ env: { LOG_LEVEL: 'warn', MIX_RTP_MIN_PORT: '52000', MIX_RTP_MAX_PORT: '58999' } });
  const browsers: Browser[] = [];
  let push: ChildProcess | undefined;
  try {
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'bench-client' })).body;
    push = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000',
      '-t', '600', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', channel.publishUrl], { stdio: 'ignore' });
    const source = async () => (await gw.admin('GET', '/api/v1/channels/bench-client')).body;
    await waitFor('host live', async () => ((await source()).source === 'host' ? true : undefined), 20000);
    const token = async (userId: string, role: string) => (await gw.admin('POST', '/api/v1/tokens', { userId, role, channelId: 'bench-client' })).body.token;
    const hostBrowser = await launch(join(media, 'host.y4m'), join(media, 'host.wav'));
    const guestBrowser = await launch(join(media, 'guest.y4m'), join(media, 'guest.wav'));
    browsers.push(hostBrowser, guestBrowser);
    const open = async (b: Browser, route: string): Promise<Page> => {
      const page = await b.newPage();
      await page.goto(`${gw.baseUrl}/#/${route}`);
      return page;
    };
    const host = await open(hostBrowser, `host?channel=bench-client&token=${await token('anchor', 'host')}`);
    // Page-side checks are strings: this file is compiled without the DOM library.
    await host.waitForFunction("[...document.querySelectorAll('#feedback li')].some((li) => li.textContent.includes('desk is open'))", undefined, { timeout: 20000 });
    const guest = await open(guestBrowser, `guest?channel=bench-client&token=${await token('guest', 'viewer')}`);
    await guest.waitForFunction('window.guestPage?.connected === true', undefined, { timeout: 20000 });

    await host.check('#client-mix');
    await host.fill('#invite-user', 'guest');
    await host.click('#invite');
    await guest.click('#invitations button.accept', { timeout: 20000 });
    await guest.waitForFunction('window.guestPage?.joined === true', undefined, { timeout: 30000 });
    await host.click('#join-camera', { timeout: 20000 });
    await host.waitForFunction('window.hostPage?.composing === true', undefined, { timeout: 30000 });
    await waitFor('client mix on air', async () => ((await source()).source === 'mix' ? true : undefined), 30000);
    await sleep(4000);
    const clientMode = await cpuRate(gw.pid, MEASURE_MS);
    const conferenceId = (await source()).conferenceId;

    await host.uncheck('#client-mix');
    await waitFor('server mix active', async () => {
      const tasks = (await gw.admin('GET', '/api/v1/mix-tasks')).body as { conferenceId: string; state: string }[];
      return tasks.some((t) => t.conferenceId === conferenceId && t.state === 'active') ? true : undefined;
    }, 30000);
    await sleep(4000);
    const serverMode = await cpuRate(gw.pid, MEASURE_MS);
    await host.click('#end');
    return {
      session: 'host (WebRTC, testsrc2 + 440 Hz) + one guest (WebRTC, smptebars + 1 kHz); channel 640x360@25',
      serverCpuPerSecond: { clientMode, serverMode },
      clientToServerRatio: Math.round((clientMode / serverMode) * 100) / 100,
      measuredSeconds: MEASURE_MS / 1000,
    };
  } finally {
    for (const b of browsers) await b.close().catch(() => undefined);
    push?.kill('SIGTERM');
    await gw.stop().catch((error: Error) => process.stderr.write(`${error.message}\n`));
    rmSync(gw.dataDir, { recursive: true, force: true });
    rmSync(media, { recursive: true, force: true });
  }
}

export const benchmark: Benchmark = {
  run: clientMixBench,
  method:
    'The built gateway as a process (embedded origin). The host pushes its channel (ffmpeg 640x360@25, so both modes mix at that size); host and guest pages in Debian headless Chromium with fake camera/microphone files. ' +
    'One co-hosting session: client mode first (the host page composes with canvas + WebAudio and sends H.264, the gateway only packages: video remuxed, Opus → AAC), then the host switches to server mode in the same session. ' +
    'Each mode: 4 s to settle, then user+system CPU seconds of the gateway and all its descendants (mediasoup workers, origin, ffmpeg) per wall second over BENCH_CLIENTMIX_SECONDS (default 15). The browsers\' own CPU is not counted: in client mode it is the host device\'s cost.',
  summary: (r) => [
    `| server CPU per session, client mode | ${r.serverCpuPerSecond.clientMode} s/s | |`,
    `| server CPU per session, server mode (same session, same run) | ${r.serverCpuPerSecond.serverMode} s/s | |`,
    `| client / server | **${r.clientToServerRatio}x** | lower is cheaper for the server |`,
  ],
};
