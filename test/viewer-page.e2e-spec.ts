import { Browser, Page } from 'playwright-core';
import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { readFileSync } from 'node:fs';
import { descendantPids, isRunning, waitFor } from '../bench/support/processes';
import { launchChromium } from './support/browser';
import { publishTestStream, Publisher } from './support/media';

/** Mean colour of the middle of what the page's <video> shows now (drawn onto a canvas). */
async function shownColor(page: Page): Promise<number[] | undefined> {
  return page.evaluate(() => {
    const video = window.viewerPlayer?.video;
    if (!video || video.videoWidth === 0) return undefined;
    const canvas = document.createElement('canvas');
    canvas.width = 64;
    canvas.height = 36;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(video, 0, 0, 64, 36);
    const { data } = ctx.getImageData(16, 9, 32, 18);
    const sum = [0, 0, 0];
    for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; c += 1) sum[c] += data[i + c];
    return sum.map((v) => Math.round(v / (data.length / 4)));
  });
}

/**
 * The viewer page (mpegts.js, and the shared HLS of seed 002, in Debian's
 * headless Chromium) when the channel goes off air and comes back: the page is never reloaded, and plays again on
 * its own. Real gateway, origin, ffmpeg pushes and browser.
 */
describe('the viewer page across the channel going off air', () => {
  let gw: RunningGateway;
  let browser: Browser;
  const pushes: Publisher[] = [];

  beforeAll(async () => {
    gw = await startGateway({ env: { LIVE_PUBLISH_GRACE_MS: '500' } });
    browser = await launchChromium();
  });
  afterAll(async () => {
    for (const p of pushes) await p.stop();
    await browser?.close();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  let attempt = 0;
  // HTTP-FLV (mpegts.js), and the default shared HLS (hls.js through the viewers' swarm, seed 002).
  it.each(['flv', 'p2p'])('plays again by itself when the host pushes again (%s)', async (mode) => {
    attempt += 1;
    const id = `tv${mode}${attempt}`;
    const channel = (await gw.admin('POST', '/api/v1/channels', { id })).body;
    const token = (await gw.admin('POST', '/api/v1/tokens', { userId: 'fan', role: 'viewer', channelId: id })).body.token;
    const red = publishTestStream(channel.publishUrl, { color: '0xff0000', seconds: 300 });
    pushes.push(red);
    await waitFor('on air', async () => ((await gw.admin('GET', `/api/v1/channels/${id}`)).body.source === 'host' ? true : undefined), 15000);

    const page = await browser.newPage();
    await page.goto(`${gw.baseUrl}/#/viewer?channel=${id}&token=${token}&mode=${mode}`);
    await waitFor('red on the page', async () => {
      const c = await shownColor(page);
      return c && c[0] > 180 && c[1] < 80 && c[2] < 80 ? true : undefined;
    }, 20000);

    // Off air: the push stops and the channel goes idle.
    await red.stop();
    await waitFor('idle', async () => ((await gw.admin('GET', `/api/v1/channels/${id}`)).body.state === 'idle' ? true : undefined), 15000);
    await new Promise((resolve) => setTimeout(resolve, 3000));

    // Back on air with another picture; the same page shows it without a reload.
    const blue = publishTestStream(channel.publishUrl, { color: '0x0000ff', seconds: 300 });
    pushes.push(blue);
    let seen: number[] | undefined;
    await waitFor('blue on the same page', async () => {
      seen = await shownColor(page);
      return seen && seen[2] > 180 && seen[0] < 80 && seen[1] < 80 ? true : undefined;
    }, 30000).catch(async (error: Error) => {
      const state = await page.evaluate(() => ({
        time: window.viewerPlayer!.video.currentTime,
        ready: window.viewerPlayer!.video.readyState,
        errors: window.viewerPlayer!.errors,
        log: document.querySelector('#feedback')?.textContent,
      }));
      throw new Error(`${error.message}: showing ${JSON.stringify(seen)}, player ${JSON.stringify(state)}`);
    });
    // And keeps playing: the program carried on its timeline, so the player never had to start over.
    const playsOn = async () => {
      const before = await page.evaluate(() => window.viewerPlayer!.video.currentTime);
      await waitFor('playing on', async () => ((await page.evaluate(() => window.viewerPlayer!.video.currentTime)) > before + 2 ? true : undefined), 10000);
    };
    await playsOn();

    // The origin itself dies (its connections with it) and the gateway restarts it; the host pushes again.
    // Every origin process: with one per core, the channel's streams may sit on any of them.
    const origins = descendantPids(gw.pid).filter((pid) => isRunning(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('origin-process'));
    expect(origins.length).toBeGreaterThan(0);
    for (const pid of origins) process.kill(pid, 'SIGKILL');
    await Promise.race([blue.exited, new Promise((_, reject) => setTimeout(() => reject(new Error('the host push outlived the origin by 15 s')), 15000))]);
    await waitFor('origin back', async () => ((await gw.request('GET', '/healthz')).body.liveOrigin?.up ? true : undefined), 15000);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const green = publishTestStream(channel.publishUrl, { color: '0x00ff00', seconds: 300 });
    pushes.push(green);
    // The page lost its stream and started a new player on the same URL by itself.
    await waitFor('green on the same page', async () => {
      const c = await shownColor(page);
      return c && c[1] > 180 && c[0] < 80 && c[2] < 80 ? true : undefined;
    }, 40000);
    await playsOn();
    // mpegts.js needs a new player for a new stream; hls.js may follow the playlist's discontinuity, or be replaced after a fatal error.
    if (mode === 'flv') expect(await page.evaluate(() => document.querySelector('#feedback')?.textContent ?? '')).toMatch(/waiting for the channel to come back|restarting the player/);
    await page.close();
    for (const p of pushes.splice(0)) await p.stop();
  }, 180000);
});
