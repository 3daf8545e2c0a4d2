import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, Page } from 'playwright-core';
import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { waitFor } from '../bench/support/processes';
import { launchChromium, receivedFrom } from './support/browser';
import { frameTimes, publishTestStream, Publisher } from './support/media';
import { BLUE, RED, SIDE_BY_SIDE, sideBySideMix, waitForColors } from './support/mix-checks';

const W = 640;
const H = 360;
const { left: LEFT, right: RIGHT } = SIDE_BY_SIDE;
const PLACEHOLDER: [number, number, number] = [48, 48, 48];

/** Runs `nft` (the test machine runs as root; setup installs nftables); the table is deleted in `finally`/afterAll. */
const nft = (...args: string[]) => execFileSync('nft', args, { stdio: 'pipe' });
const TABLE = `gwstall${process.pid}`;

/**
 * One participant's network stalls: everything its browser sends to the SFU
 * is dropped on loopback (100 % loss, matched by the SFU's port of its send
 * transport), while the rest of the conference goes on. The drop is an
 * nftables rule: this machine's kernel has no netem qdisc (`tc qdisc add …
 * netem` answers "unknown qdisc kind"), and a firewall drop is the same
 * stall as netem's `loss 100%`. Real Chromium (two pages: the stalled one
 * with a blue camera, a watcher), a real RTMP participant (red), real
 * mediasoup, ffmpeg mixer and origin.
 */
describe('a participant’s network stalls (packets dropped on loopback)', () => {
  let gw: RunningGateway;
  let browser: Browser;
  let stalled: Page;
  let watcher: Page;
  let red: Publisher;
  let media: string;
  let conferenceId: string;
  let channel: { playUrls: { flv: string }; publishUrl: string };
  let dropping = false;

  const clearDrop = () => {
    if (!dropping) return;
    nft('delete', 'table', 'inet', TABLE);
    dropping = false;
  };

  async function openPage(userId: string): Promise<Page> {
    const token = (await gw.admin('POST', '/api/v1/tokens', { userId, role: 'guest' })).body.token;
    const page = await browser.newPage();
    await page.goto(`${gw.baseUrl}/#/conference?id=${conferenceId}&token=${token}`);
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'joined', undefined, { timeout: 20000 });
    return page;
  }

  beforeAll(async () => {
    media = mkdtempSync(join(tmpdir(), 'fake-media-'));
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=0x0000ff:size=640x360:rate=25', '-t', '2', '-pix_fmt', 'yuv420p', join(media, 'blue.y4m')]);
    gw = await startGateway({ env: { MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' } });
    browser = await launchChromium([`--use-file-for-fake-video-capture=${join(media, 'blue.y4m')}`]);
    channel = (await gw.admin('POST', '/api/v1/channels', { id: 'stall' })).body;
    const hostToken = (await gw.admin('POST', '/api/v1/tokens', { userId: 'anchor', role: 'host' })).body.token;
    conferenceId = (await gw.request('POST', '/api/v1/conferences', { body: { title: 'stall' }, headers: { authorization: `Bearer ${hostToken}` } })).body.id;
    for (const userId of ['red', 'web', 'watch']) await gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId });
    const url = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId: 'red' })).body.url;
    red = publishTestStream(url, { color: '0xff0000', toneHz: 440, size: '640x360', fps: 15, seconds: 300 });
    stalled = await openPage('web');
    watcher = await openPage('watch');
  }, 90000);

  afterAll(async () => {
    clearDrop();
    await red?.stop();
    await browser?.close();
    await gw?.stop();
    removeDir(gw.dataDir);
    removeDir(media);
  });

  it('the rest of the session is unaffected, and the stalled participant comes back', async () => {
    await waitFor('red and web producing', async () => {
      const { participants } = (await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body;
      return ['red', 'web'].every((u) => participants.some((p: { userId: string; video: boolean }) => p.userId === u && p.video)) ? true : undefined;
    }, 20000);
    const task = await gw.admin('POST', '/api/v1/mix-tasks', sideBySideMix(conferenceId, channel.publishUrl, 'red', 'web'));
    expect(task.status).toBe(201);
    await waitForColors(channel.playUrls.flv, W, H, [
      { region: LEFT, color: RED },
      { region: RIGHT, color: BLUE },
    ], 20000);

    // The SFU's port of the stalled page's send transport, from its selected ICE candidate pair.
    const sfuPort = await stalled.evaluate(async () => {
      const report = await window.conferenceClient!.sendTransport!.getStats();
      let remoteId = '';
      report.forEach((s: { type: string; state?: string; nominated?: boolean; remoteCandidateId?: string }) => {
        if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated) remoteId = s.remoteCandidateId!;
      });
      let port = 0;
      report.forEach((s: { id: string; port?: number }) => {
        if (s.id === remoteId) port = s.port!;
      });
      return port;
    });
    expect(sfuPort).toBeGreaterThan(0);
    const sentBefore = await sentBytes(stalled);

    // Stall: every packet to that port is dropped; all other loopback traffic is untouched.
    nft('add', 'table', 'inet', TABLE);
    dropping = true;
    nft('add', 'chain', 'inet', TABLE, 'out', '{ type filter hook output priority 0; }');
    nft('add', 'rule', 'inet', TABLE, 'out', 'udp', 'dport', String(sfuPort), 'drop');
    nft('add', 'rule', 'inet', TABLE, 'out', 'tcp', 'dport', String(sfuPort), 'drop');
    try {
      const watchedBefore = await receivedFrom(watcher, 'red');
      const webBefore = await receivedFrom(watcher, 'web');
      // The mix keeps its frame rate; the stalled cell falls back to the placeholder, red stays.
      const times = await frameTimes(channel.playUrls.flv, 4);
      const span = times[times.length - 1] - times[0];
      expect((times.length - 1) / span).toBeGreaterThanOrEqual(0.95 * 15);
      await waitForColors(channel.playUrls.flv, W, H, [
        { region: LEFT, color: RED },
        { region: RIGHT, color: PLACEHOLDER },
      ], 15000);
      // The other participant still receives red, and nothing more from the stalled one.
      const watchedAfter = await receivedFrom(watcher, 'red');
      expect(watchedAfter.framesDecoded - watchedBefore.framesDecoded).toBeGreaterThan(30);
      const webAfter = await receivedFrom(watcher, 'web');
      expect(webAfter.videoBytes - webBefore.videoBytes).toBeLessThan(20_000);
      // The stalled browser kept sending (the loss is on the path, not in the app).
      expect(await sentBytes(stalled)).toBeGreaterThan(sentBefore);
      // Nobody was dropped: the stall is not a leave.
      const { participants } = (await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body;
      expect(participants.map((p: { userId: string }) => p.userId).sort()).toEqual(['red', 'watch', 'web']);
    } finally {
      clearDrop();
    }

    // The network returns: the stalled participant is back in the mix and at the watcher.
    await waitForColors(channel.playUrls.flv, W, H, [
      { region: LEFT, color: RED },
      { region: RIGHT, color: BLUE },
    ], 20000);
    const back = await receivedFrom(watcher, 'web');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await receivedFrom(watcher, 'web')).framesDecoded).toBeGreaterThan(back.framesDecoded);
    const view = (await gw.admin('GET', `/api/v1/mix-tasks/${task.body.id}`)).body;
    expect(view).toMatchObject({ state: 'active', outputs: [{ state: 'live', retries: 0 }] });
  }, 150000);
});

/** Bytes the page has sent on its send transport (outbound-rtp). */
async function sentBytes(page: Page): Promise<number> {
  return page.evaluate(async () => {
    let bytes = 0;
    (await window.conferenceClient!.sendTransport!.getStats()).forEach((s: { type: string; bytesSent?: number }) => {
      if (s.type === 'outbound-rtp') bytes += s.bytesSent ?? 0;
    });
    return bytes;
  });
}
