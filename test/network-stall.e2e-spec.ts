import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, Page } from 'playwright-core';
import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { waitFor } from '../bench/support/processes';
import { launchChromium, receivedFrom, writeFakeCamera } from './support/browser';
import { publishTestStream, Publisher } from './support/media';
import { BLUE, probeMix, RED, SIDE_BY_SIDE, sideBySideMix, waitForColors } from './support/mix-checks';
import { PictureProbe } from '../bench/support/picture-probe';

const W = 640;
const H = 360;
const { left: LEFT, right: RIGHT } = SIDE_BY_SIDE;
const PLACEHOLDER: [number, number, number] = [48, 48, 48];

/** Runs `nft` (the test machine runs as root; setup installs nftables); the table is deleted in `finally`/afterAll. */
const nft = (...args: string[]) => execFileSync('nft', args, { stdio: 'pipe' });
const TABLE = `gwstall${process.pid}`;

/**
 * One participant's network stalls, long enough for its ICE to fail:
 * everything its browser sends to the SFU is dropped on loopback (100 %
 * loss, matched by the SFU's ports of its send transport), while the rest
 * of the conference goes on. When the path is back, the page restarts ICE
 * and returns without rejoining. The drop is an
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
  let viewer: PictureProbe | undefined;

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
    writeFakeCamera(join(media, 'blue.y4m'), '0x0000ff');
    gw = await startGateway({ env: { MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' } });
    browser = await launchChromium([`--use-file-for-fake-video-capture=${join(media, 'blue.y4m')}`]);
    channel = (await gw.admin('POST', '/api/v1/channels', { id: 'stall' })).body;
    const hostToken = (await gw.admin('POST', '/api/v1/tokens', { userId: 'anchor', role: 'host' })).body.token;
    conferenceId = (await gw.request('POST', '/api/v1/conferences', { body: { title: 'stall' }, headers: { authorization: `Bearer ${hostToken}` } })).body.id;
    for (const userId of ['red', 'web', 'watch']) await gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId });
    const url = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId: 'red' })).body.url;
    red = publishTestStream(url, { color: '0xff0000', toneHz: 440, size: '640x360', fps: 25, seconds: 300, counter: true });
    stalled = await openPage('web');
    watcher = await openPage('watch');
  }, 90000);

  afterAll(async () => {
    clearDrop();
    viewer?.close();
    await red?.stop();
    await browser?.close();
    await gw?.stop();
    removeDir(gw.dataDir);
    removeDir(media);
  });

  it('the rest of the session is unaffected, and the stalled participant comes back after an ICE restart', async () => {
    // Jest retries a failed E2E once: a retry starts without the last try's drop, viewer and mix task.
    clearDrop();
    viewer?.close();
    for (const t of (await gw.admin('GET', '/api/v1/mix-tasks')).body as { id: string }[]) await gw.admin('DELETE', `/api/v1/mix-tasks/${t.id}`);
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

    // Each participant's decoder passes on the pictures it decodes, once each (the fake camera and red send 25 fps).
    const { pictures, layout } = (await gw.admin('GET', `/api/v1/mix-tasks/${task.body.id}`)).body;
    viewer = probeMix(channel.playUrls.flv, W, H, layout.cells, { red: RED, web: BLUE });
    await viewer.waitForShowing(['red', 'web'], { timeoutMs: 20000 });
    const showingAt = Date.now();
    expect(pictures.web.fps).toBeGreaterThan(5);
    expect(pictures.web.fps).toBeLessThanOrEqual(30);
    expect(pictures.red.fps).toBeLessThanOrEqual(30);

    // The SFU's UDP and TCP candidates of the stalled page's send transport: with only the UDP one
    // dropped, Chromium's ICE falls back to TCP within seconds (seen in 1 run of 5). Each is dropped for
    // its own protocol only: the same number may be another transport's port in the other protocol.
    const candidates = await stalled.evaluate(
      () => window.conferenceClient!.sendTransport!.appData.iceCandidates as { protocol: 'udp' | 'tcp'; port: number }[],
    );
    const sfuPorts = Object.fromEntries(candidates.map((c) => [c.protocol, c.port]));
    expect(Object.keys(sfuPorts).sort()).toEqual(['tcp', 'udp']);
    const sentBefore = await sentBytes(stalled);

    // 3 s of the full mix before the stall: the baseline the stall is compared with.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, showingAt + 3000 - Date.now())));
    // Stall: every packet to those ports is dropped; all other loopback traffic is untouched.
    nft('add', 'table', 'inet', TABLE);
    dropping = true;
    nft('add', 'chain', 'inet', TABLE, 'out', '{ type filter hook output priority 0; }');
    nft('add', 'rule', 'inet', TABLE, 'out', 'udp', 'dport', String(sfuPorts.udp), 'drop');
    nft('add', 'rule', 'inet', TABLE, 'out', 'tcp', 'dport', String(sfuPorts.tcp), 'drop');
    try {
      const watchedBefore = await receivedFrom(watcher, 'red');
      const webBefore = await receivedFrom(watcher, 'web');
      // The mix keeps its frame rate at a viewer (distinct pictures per wall-clock second: red's counter
      // moves in each); the stalled cell falls back to the placeholder, red stays.
      const stalledAt = Date.now();
      await viewer.waitUntilArrived(stalledAt + 4000, 15000);
      const rate = viewer.rate(stalledAt, stalledAt + 4000);
      // Side by side with the same viewer just before the stall: on a loaded machine the mix's own
      // gaps reach ~250 ms without any stall (a CI run saw 278 ms during one), so the stall must not
      // make them worse than twice the baseline's, and never past 400 ms.
      const baseline = viewer.rate(stalledAt - 3000, stalledAt);
      process.stdout.write(`network stall: distinct gap max ${rate.maxDistinctGapMs} ms during, ${baseline.maxDistinctGapMs} ms before\n`);
      expect(rate.distinctPerSecond).toBeGreaterThanOrEqual(0.95 * 15);
      expect(rate.maxDistinctGapMs).toBeLessThan(Math.min(400, Math.max(250, 2 * baseline.maxDistinctGapMs)));
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
      // A long stall: the page's ICE fails (WebRTC does not recover from that by itself), and it restarts ICE
      // (again and again while the path is still down).
      await waitFor('the stalled page restarted ICE', () => stalled.evaluate(() => (window.conferenceClient!.iceRestarts > 0 ? true : undefined)), 60000);
    } finally {
      clearDrop();
    }

    // The network returns: the stalled participant is back in the mix (its counter moving again) and at the watcher.
    const returnedAt = Date.now();
    const backInMix = await viewer.waitForShowing(['red', 'web'], { after: returnedAt, timeoutMs: 20000 });
    await viewer.waitUntilArrived(backInMix.at + 3000);
    expect(viewer.rate(backInMix.at, backInMix.at + 2000).distinctPerSecond).toBeGreaterThanOrEqual(0.95 * 15);
    // The page sends simulcast with temporal layers. Coming back, Chrome's bandwidth estimate starts
    // low and its full layer sends only the base temporal layer (a quarter of the frames) for ~1 s, so
    // 3 s after the first picture, not 2. mediasoup scored the packets sent during the stall as lost
    // once the streams resumed, and its simulcast consumer dropped every layer with score 0: another
    // ~0.9 s with no picture at all, which failed this check on CI; the worker is built with a fix
    // (scripts/mediasoup-worker-patches/0001-*).
    const webCounters = viewer.frames.filter((f) => f.at >= backInMix.at && f.at <= backInMix.at + 3000 && f.counters.web !== undefined).map((f) => f.counters.web);
    expect(new Set(webCounters).size).toBeGreaterThan(20);
    const back = await receivedFrom(watcher, 'web');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await receivedFrom(watcher, 'web')).framesDecoded).toBeGreaterThan(back.framesDecoded);
    expect(await stalled.evaluate(() => window.conferenceClient!.rejoins)).toBe(0);
    const view = (await gw.admin('GET', `/api/v1/mix-tasks/${task.body.id}`)).body;
    expect(view).toMatchObject({ state: 'active', outputs: [{ state: 'live', retries: 0 }] });
  }, 150000);

  it('the mixer consumes the simulcast layer its cell needs', async () => {
    // The page sends its camera as two layers (640x360 and 320x180). Side by side, its 320x360 cell is
    // covered by a 16:9 picture 640 wide: the full layer. In a 160x90 window the half one is plenty.
    const [task] = (await gw.admin('GET', '/api/v1/mix-tasks')).body as { id: string; sequence: number }[];
    const layersOf = async () => (await gw.admin('GET', `/api/v1/mix-tasks/${task.id}`)).body.pictures.web.layers;
    await waitFor('the full layer for the half-canvas cell', async () => ((await layersOf())?.current === 1 ? true : undefined), 15000);
    expect(await layersOf()).toEqual({ preferred: 1, current: 1 });
    const small = { x: 460, y: 250, w: 160, h: 90 };
    const patched = await gw.admin('PATCH', `/api/v1/mix-tasks/${task.id}`, {
      sequence: task.sequence + 1,
      layout: { mode: 'custom', cells: [{ userId: 'red', x: 0, y: 0, width: 320, height: 360 }, { userId: 'web', x: small.x, y: small.y, width: small.w, height: small.h }] },
    });
    expect(patched.status).toBe(200);
    await waitFor('the half layer for the small window', async () => ((await layersOf())?.current === 0 ? true : undefined), 15000);
    expect((await layersOf()).preferred).toBe(0);
    // And the window shows the participant (from the half layer).
    await waitForColors(channel.playUrls.flv, W, H, [{ region: { x: small.x + 30, y: small.y + 15, w: 100, h: 40 }, color: BLUE }, { region: LEFT, color: RED }], 15000);
  }, 60000);
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
