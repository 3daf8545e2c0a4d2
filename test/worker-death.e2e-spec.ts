import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, Page } from 'playwright-core';
import { removeDir, RunningGateway, startGateway, workerPids } from '../bench/support/gateway';
import { isRunning, waitFor } from '../bench/support/processes';
import { launchChromium } from './support/browser';
import { publishTestStream, Publisher } from './support/media';
import { BLUE, RED, SIDE_BY_SIDE, sideBySideMix, tonePowers, waitForColors } from './support/mix-checks';

const W = 640;
const H = 360;
const { left: LEFT, right: RIGHT } = SIDE_BY_SIDE;

/**
 * A mediasoup worker dies (SIGKILL) under a running conference with a mix:
 * a Chromium participant (blue camera, 1 kHz) and an RTMP participant (red,
 * 440 Hz). Everything here is real: workers, ffmpeg, origin, browser.
 */
describe('a mediasoup worker dies mid-conference', () => {
  let gw: RunningGateway;
  let browser: Browser;
  let page: Page;
  let red: Publisher;
  let media: string;
  let conferenceId: string;
  let channel: { playUrls: { flv: string }; publishUrl: string };

  const conference = async () => (await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body;
  /** Both tones in the channel. Sound may come a moment after the picture (a reading spans the origin's cached GOP), so it polls. */
  const bothTones = async () => {
    let last: number[] = [];
    await waitFor('both tones', async () => {
      last = await tonePowers(channel.playUrls.flv, [440, 1000, 700]);
      return last[0] > 50 * last[2] && last[1] > 50 * last[2] ? true : undefined;
    }, 20000).catch(() => undefined);
    expect(last[0]).toBeGreaterThan(50 * last[2]);
    expect(last[1]).toBeGreaterThan(50 * last[2]);
  };

  beforeAll(async () => {
    media = mkdtempSync(join(tmpdir(), 'fake-media-'));
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=0x0000ff:size=640x360:rate=25', '-t', '2', '-pix_fmt', 'yuv420p', join(media, 'blue.y4m')]);
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000', '-t', '4', join(media, 'tone.wav')]);
    gw = await startGateway({ env: { SFU_WORKERS: '2', MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' } });
    browser = await launchChromium([`--use-file-for-fake-video-capture=${join(media, 'blue.y4m')}`, `--use-file-for-fake-audio-capture=${join(media, 'tone.wav')}`]);
    channel = (await gw.admin('POST', '/api/v1/channels', { id: 'wd' })).body;
    const hostToken = (await gw.admin('POST', '/api/v1/tokens', { userId: 'anchor', role: 'host' })).body.token;
    conferenceId = (await gw.request('POST', '/api/v1/conferences', { body: { title: 'wd' }, headers: { authorization: `Bearer ${hostToken}` } })).body.id;
    for (const userId of ['red', 'web']) await gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId });
    const url = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId: 'red' })).body.url;
    red = publishTestStream(url, { color: '0xff0000', toneHz: 440, size: '640x360', fps: 15, seconds: 300 });
    const webToken = (await gw.admin('POST', '/api/v1/tokens', { userId: 'web', role: 'guest' })).body.token;
    page = await browser.newPage();
    await page.goto(`${gw.baseUrl}/#/conference?id=${conferenceId}&token=${webToken}`);
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'joined', undefined, { timeout: 20000 });
  }, 90000);

  afterAll(async () => {
    await red?.stop();
    await browser?.close();
    await gw?.stop();
    removeDir(gw.dataDir);
    removeDir(media);
  });

  it('tells the clients, rebuilds the conference on a healthy worker, the participants rejoin and the mix resumes', async () => {
    const bothProducing = async () => {
      const { participants } = await conference();
      return ['red', 'web'].every((u) => participants.some((p: { userId: string; audio: boolean; video: boolean }) => p.userId === u && p.audio && p.video)) ? true : undefined;
    };
    await waitFor('both participants producing', bothProducing, 20000);
    const task = await gw.admin('POST', '/api/v1/mix-tasks', sideBySideMix(conferenceId, channel.publishUrl, 'red', 'web'));
    expect(task.status).toBe(201);
    const regions = [
      { region: LEFT, color: RED },
      { region: RIGHT, color: BLUE },
    ];
    await waitForColors(channel.playUrls.flv, W, H, regions);
    await bothTones();

    // Kill the worker under the conference (the one we started, by its pid).
    const before = await conference();
    expect(before.workerSlots).toHaveLength(1);
    const deadSlot: number = before.workerSlots[0];
    const pids = await workerPids(gw);
    const deadPid = pids.get(deadSlot)!;
    expect(deadPid).toBeGreaterThan(0);
    process.kill(deadPid, 'SIGKILL');
    await waitFor('worker gone', () => (isRunning(deadPid) ? undefined : true), 5000);

    // The browser was told and rejoined on its own; the RTMP participant was brought back by the gateway.
    await page.waitForFunction(() => (window.conferenceClient?.rejoins ?? 0) >= 1, undefined, { timeout: 20000 });
    await waitFor('both participants producing again', bothProducing, 20000);
    const after = await conference();
    expect(after.workerSlots).toHaveLength(1);
    expect(after.workerSlots[0]).not.toBe(deadSlot);
    expect(gw.output()).toMatch(/router lost with its worker; 1 WebRTC participants asked to rejoin/);
    expect(gw.output()).toMatch(/RTMP participant red rejoins conference/);

    // The mix task survived, took both participants back, and its output shows them and their tones again.
    await waitFor('mix inputs back', async () => {
      const view = (await gw.admin('GET', `/api/v1/mix-tasks/${task.body.id}`)).body;
      expect(view.state).toBe('active');
      return view.participants.length === 2 && Object.values(view.processes.decoders).every((pid) => pid) ? true : undefined;
    }, 15000);
    await waitForColors(channel.playUrls.flv, W, H, regions, 30000);
    await bothTones();

    // The browser receives the RTMP participant again through the new router.
    const received = async () =>
      page.evaluate(async () => {
        let bytes = 0;
        for (const consumer of window.conferenceClient!.consumers.values()) {
          (await consumer.getStats()).forEach((s: { type: string; kind: string; bytesReceived: number }) => {
            if (s.type === 'inbound-rtp' && s.kind === 'video') bytes += s.bytesReceived;
          });
        }
        return bytes;
      });
    const first = await received();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await received()).toBeGreaterThan(first);

    // The dead slot has a new worker.
    await waitFor('worker replaced', async () => {
      const now = await workerPids(gw);
      return now.get(deadSlot) && now.get(deadSlot) !== deadPid ? true : undefined;
    }, 10000);
  }, 150000);
});

/**
 * A conference spread over two workers (a tiny per-worker limit forces it):
 * red and blue on one, green on the other, which also hosts the mixer's
 * transport. Killing that worker loses green and the mixer's consumers of
 * red and blue, whose producers live on: the mix consumes them again at once,
 * and green rejoins once the SFU has room for it again.
 */
describe('a mediasoup worker dies under part of a conference', () => {
  let gw: RunningGateway;
  const pushes: Publisher[] = [];
  let conferenceId: string;
  let channel: { playUrls: { flv: string }; publishUrl: string };
  const conference = async () => (await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body;
  const producing = async (userId: string) =>
    (await conference()).participants.some((p: { userId: string; audio: boolean; video: boolean }) => p.userId === userId && p.audio && p.video) ? true : undefined;

  beforeAll(async () => {
    gw = await startGateway({
      env: { SFU_WORKERS: '2', SFU_WORKER_MAX_LOAD: '3', MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' },
    });
    channel = (await gw.admin('POST', '/api/v1/channels', { id: 'wd2' })).body;
    conferenceId = (await gw.admin('POST', '/api/v1/conferences', { title: 'wd2' })).body.id;
    for (const [userId, color, tone] of [['red', '0xff0000', 440], ['blue', '0x0000ff', 1000], ['green', '0x00ff00', 700]] as const) {
      await gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId });
      const url = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId })).body.url;
      pushes.push(publishTestStream(url, { color, toneHz: tone, size: '640x360', fps: 15, seconds: 300 }));
      await waitFor(`${userId} producing`, () => producing(userId), 20000);
    }
  }, 90000);

  afterAll(async () => {
    for (const p of pushes) await p.stop();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  it('the mix re-consumes the survivors at once and takes the rejoined participant back', async () => {
    const slots: number[] = (await conference()).workerSlots;
    expect(slots).toHaveLength(2);
    const task = await gw.admin('POST', '/api/v1/mix-tasks', {
      conferenceId,
      outputs: [{ url: channel.publishUrl }],
      layout: { mode: 'grid' },
      video: { width: W, height: H, fps: 15, bitrateKbps: 800, gopSeconds: 1 },
      audio: { sampleRate: 48000, channels: 2, bitrateKbps: 96 },
    });
    expect(task.status).toBe(201);
    // Grid of three in join order: red, blue on top; green centred below.
    const grid = [
      { region: { x: 100, y: 60, w: 120, h: 60 }, color: RED },
      { region: { x: 420, y: 60, w: 120, h: 60 }, color: BLUE },
      { region: { x: 260, y: 240, w: 120, h: 60 }, color: [0, 255, 0] as [number, number, number] },
    ];
    await waitForColors(channel.playUrls.flv, W, H, grid, 20000);

    // The second router's worker: green's, and the mixer's (the least-loaded router when the mix started).
    const pid = (await workerPids(gw)).get(slots[1])!;
    process.kill(pid, 'SIGKILL');
    await waitFor('worker gone', () => (isRunning(pid) ? undefined : true), 5000);

    await waitFor('mixer consumes red and blue again', () => (/lost its consumers of red; consuming again/.test(gw.output()) && /lost its consumers of blue; consuming again/.test(gw.output()) ? true : undefined), 10000);
    await waitFor('green rejoined', () => producing('green'), 30000);
    expect((await conference()).participants.map((p: { userId: string }) => p.userId)).toEqual(['red', 'blue', 'green']);
    await waitForColors(channel.playUrls.flv, W, H, grid, 30000);
    const view = (await gw.admin('GET', `/api/v1/mix-tasks/${task.body.id}`)).body;
    expect(view.state).toBe('active');
    expect([...view.participants].sort()).toEqual(['blue', 'green', 'red']);
  }, 150000);
});
