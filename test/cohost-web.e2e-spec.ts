import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, Page } from 'playwright-core';
import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { waitFor } from '../bench/support/processes';
import { launchChromium } from './support/browser';
import { publishTestStream, Publisher } from './support/media';
import { BLUE, floatRegions, RED, tonePowers, waitForColors } from './support/mix-checks';
import { FlvWatcher } from '../bench/support/viewer';

const SHOTS = join(__dirname, '..', 'test-output');
const W = 640;
const H = 360;
const { main: MAIN, guestWindow: GUEST_WINDOW } = floatRegions(W, H, 'anchor', 'guest1');

/** Records every SourceBuffer a page creates, so a failure can show what each one holds. */
function recordSourceBuffers(): void {
  const w = window as unknown as { sourceBuffers: { mime: string; sb: SourceBuffer }[] };
  w.sourceBuffers = [];
  const add = MediaSource.prototype.addSourceBuffer;
  MediaSource.prototype.addSourceBuffer = function (this: MediaSource, mime: string) {
    const sb = add.call(this, mime);
    w.sourceBuffers.push({ mime, sb });
    return sb;
  };
}

/** The viewer's player, for failure messages: position, state, the element's error, what is buffered, frames decoded. */
async function playerState(page: Page): Promise<string> {
  return page
    .evaluate(() => {
      const v = window.viewerPlayer?.video;
      if (!v) return 'no player on the page';
      const ranges = (b: TimeRanges) => [...Array(b.length).keys()].map((i) => `${b.start(i).toFixed(3)}-${b.end(i).toFixed(3)}`).join(' ');
      const buffers = ((window as unknown as { sourceBuffers?: { mime: string; sb: SourceBuffer }[] }).sourceBuffers ?? []).map(({ mime, sb }) => {
        try {
          return `${mime}: ${ranges(sb.buffered)}`;
        } catch (error) {
          return `${mime}: ${(error as Error).message}`;
        }
      });
      const quality = v.getVideoPlaybackQuality();
      return JSON.stringify({
        currentTime: v.currentTime,
        readyState: v.readyState,
        paused: v.paused,
        error: v.error ? `${v.error.code} ${v.error.message}` : null,
        buffered: ranges(v.buffered),
        sourceBuffers: buffers,
        frames: { decoded: quality.totalVideoFrames, dropped: quality.droppedVideoFrames },
        playerErrors: window.viewerPlayer!.errors,
        playback: document.querySelector('#playback')?.textContent,
      });
    })
    .catch((error: Error) => `cannot read the player: ${error.message}`);
}

/** Waits until the viewer's player is past `seconds`; on timeout the failure says what the player looks like. */
async function viewerPlaysPast(page: Page, seconds: number, what: string): Promise<void> {
  try {
    await page.waitForFunction((t) => (window.viewerPlayer?.video.currentTime ?? 0) > t, seconds, { timeout: 20000 });
  } catch (error) {
    throw new Error(`${what}: the viewer's player did not pass ${seconds.toFixed(3)} s (${(error as Error).message.split('\n')[0]})\nplayer: ${await playerState(page)}`);
  }
}

/**
 * Co-hosting through the web app in Debian's headless Chromium: the host page
 * invites, the guest page accepts and joins with its (fake) camera and
 * microphone, the host goes on mic from its page too, a viewer page plays the
 * channel with mpegts.js throughout, and the channel's output is decoded. The
 * fake devices play files made here (host: red + 440 Hz; guest: blue + 1 kHz)
 * so the output can be checked exactly. (The host-as-RTMP-participant path is
 * covered by cohost.e2e-spec.ts.)
 */
describe('co-hosting in real browsers: host, guest and viewer pages', () => {
  let gw: RunningGateway;
  let browser: Browser;
  let hostBrowser: Browser;
  let media: string;
  const pushes: Publisher[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    media = mkdtempSync(join(tmpdir(), 'fake-media-'));
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=0x0000ff:size=640x360:rate=25', '-t', '2', '-pix_fmt', 'yuv420p', join(media, 'blue.y4m')]);
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000', '-t', '4', join(media, 'tone.wav')]);
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=0xff0000:size=640x360:rate=25', '-t', '2', '-pix_fmt', 'yuv420p', join(media, 'red.y4m')]);
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '4', join(media, 'a440.wav')]);
    gw = await startGateway({ env: { MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' } });
    // The guest's and viewer's browser: blue camera, 1 kHz microphone. The host's: red camera, 440 Hz microphone.
    browser = await launchChromium([`--use-file-for-fake-video-capture=${join(media, 'blue.y4m')}`, `--use-file-for-fake-audio-capture=${join(media, 'tone.wav')}`]);
    hostBrowser = await launchChromium([`--use-file-for-fake-video-capture=${join(media, 'red.y4m')}`, `--use-file-for-fake-audio-capture=${join(media, 'a440.wav')}`]);
  });
  afterAll(async () => {
    await browser?.close();
    await hostBrowser?.close();
    for (const p of pushes) await p.stop();
    await gw?.stop();
    removeDir(gw.dataDir);
    rmSync(media, { recursive: true, force: true });
  });

  // A channel per attempt of the first test: a retry must not meet the first attempt's channel.
  let stage = 'stage';
  let attempt = 0;
  const token = async (userId: string, role: string, channelId = stage) => (await gw.admin('POST', '/api/v1/tokens', { userId, role, channelId })).body.token as string;
  const open = async (route: string, on = browser): Promise<Page> => {
    const page = await on.newPage({ viewport: { width: 1000, height: 1100 } });
    await page.addInitScript(recordSourceBuffers);
    await page.goto(`${gw.baseUrl}/#/${route}`);
    return page;
  };
  const feedbackHas = (page: Page, text: string) =>
    page.waitForFunction((t) => [...document.querySelectorAll('#feedback li')].some((li) => li.textContent?.includes(t)), text, { timeout: 20000 });
  const source = async (channelId = stage) => (await gw.admin('GET', `/api/v1/channels/${channelId}`)).body.source;

  it('a viewer watches, the host invites, the guest joins with camera, the mix airs both, and ending returns the host alone', async () => {
    attempt += 1;
    stage = `stage${attempt}`;
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: stage, title: 'Stage' })).body;
    pushes.push(publishTestStream(channel.publishUrl, { color: '0xff0000', toneHz: 440, seconds: 300 }));
    await waitFor('host live', async () => ((await source()) === 'host' ? true : undefined), 20000);

    // The viewer page plays the channel's HTTP-FLV with mpegts.js (its shared HLS is test/swarm.e2e-spec.ts's).
    const viewer = await open(`viewer?channel=${stage}&token=${await token('fan', 'viewer')}&mode=flv`);
    await viewerPlaysPast(viewer, 1, 'viewer starts');
    expect(await viewer.textContent('#playback')).toBe('playing');

    const host = await open(`host?channel=${stage}&token=${await token('anchor', 'host')}`, hostBrowser);
    await feedbackHas(host, 'desk is open');
    const guest = await open(`guest?channel=${stage}&token=${await token('guest1', 'viewer')}`);
    await guest.waitForFunction(() => window.guestPage?.connected === true, undefined, { timeout: 20000 });

    // A wrong move is shown in words, not swallowed.
    await host.fill('#invite-user', 'anchor');
    await host.click('#invite');
    await feedbackHas(host, 'ALREADY_ON_MIC');

    await host.fill('#invite-user', 'guest1');
    await host.click('#invite');
    await feedbackHas(host, 'invited guest1');
    await guest.click('#invitations button.accept', { timeout: 20000 });
    await guest.waitForFunction(() => window.guestPage?.joined === true, undefined, { timeout: 30000 });

    // The host goes on mic from the browser (WebRTC); its own RTMP push stays up for when co-hosting ends.
    await host.click('#join-camera', { timeout: 20000 });
    await host.waitForFunction(() => (window as unknown as { hostPage: { inConference: boolean } }).hostPage.inConference, undefined, { timeout: 30000 });

    // The channel, decoded: the host's red fills the float layout, the guest's camera (blue) sits in its window; both tones.
    await waitForColors(channel.playUrls.flv, W, H, [
      { region: MAIN, color: RED },
      { region: GUEST_WINDOW, color: BLUE },
    ], 40000);
    await waitFor('both tones', async () => {
      const [p440, p1000, p700] = await tonePowers(channel.playUrls.flv, [440, 1000, 700]);
      return p440 > 20 * p700 && p1000 > 20 * p700 ? true : undefined;
    }, 20000);
    await waitFor('host page shows the mix', async () => ((await host.textContent('#mix-state')) === 'active' ? true : undefined), 10000);
    expect(await host.textContent('#seats')).toContain('guest1');
    expect(await host.textContent('#people')).toContain('guest1 · webrtc');
    expect(await host.textContent('#mix-stats')).toMatch(/float · 2 in the mix · \d+ fps/);
    await host.screenshot({ path: join(SHOTS, 'cohost-host.png') });
    await guest.screenshot({ path: join(SHOTS, 'cohost-guest.png') });
    await viewer.screenshot({ path: join(SHOTS, 'cohost-viewer.png') });

    // Ending returns the channel to the host alone; the viewer never reconnected.
    const playedBefore = await viewer.evaluate(() => window.viewerPlayer!.video.currentTime);
    await host.click('#end');
    await feedbackHas(host, 'ended co-hosting');
    await guest.waitForFunction(() => document.querySelector('#guest-status')?.textContent === 'co-hosting ended', undefined, { timeout: 20000 });
    await host.waitForFunction(() => !(window as unknown as { hostPage: { inConference: boolean } }).hostPage.inConference, undefined, { timeout: 20000 });
    await waitFor('host alone', async () => ((await source()) === 'host' ? true : undefined), 20000);
    await waitForColors(channel.playUrls.flv, W, H, [{ region: MAIN, color: RED }, { region: GUEST_WINDOW, color: RED }], 20000);
    const [p440, p1000] = await tonePowers(channel.playUrls.flv, [440, 1000]);
    expect(p440).toBeGreaterThan(100 * p1000);
    await viewerPlaysPast(viewer, playedBefore + 2, 'viewer kept playing through co-hosting');
    expect(await viewer.evaluate(() => window.viewerPlayer!.errors)).toEqual([]);
    await viewer.screenshot({ path: join(SHOTS, 'cohost-viewer-after.png') });
  }, 180000);

  it('client mode: the host page composes and publishes the picture, the gateway only packages it, and switching modes keeps the channel', async () => {
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'studio2', title: 'Client mix' })).body;
    pushes.push(publishTestStream(channel.publishUrl, { color: '0x00ff00', toneHz: 660, seconds: 300 }));
    await waitFor('host live', async () => ((await source('studio2')) === 'host' ? true : undefined), 20000);
    const host = await open(`host?channel=studio2&token=${await token('anchor2', 'host', 'studio2')}`, hostBrowser);
    await feedbackHas(host, 'desk is open');
    const guest = await open(`guest?channel=studio2&token=${await token('guest2', 'viewer', 'studio2')}`);
    await guest.waitForFunction(() => window.guestPage?.connected === true, undefined, { timeout: 20000 });

    await host.check('#client-mix');
    await feedbackHas(host, 'mix mode set to client');
    await host.fill('#invite-user', 'guest2');
    await host.click('#invite');
    await guest.click('#invitations button.accept', { timeout: 20000 });
    await guest.waitForFunction(() => window.guestPage?.joined === true, undefined, { timeout: 30000 });
    await host.click('#join-camera', { timeout: 20000 });
    await host.waitForFunction(() => (window as unknown as { hostPage: { composing: boolean } }).hostPage.composing, undefined, { timeout: 30000 });

    // The channel shows the host page's composition: its red camera full frame, the guest's blue in the window, both voices.
    await waitForColors(channel.playUrls.flv, W, H, [
      { region: MAIN, color: RED },
      { region: GUEST_WINDOW, color: BLUE },
    ], 40000);
    await waitFor('both voices', async () => {
      const [p440, p1000, p700] = await tonePowers(channel.playUrls.flv, [440, 1000, 700]);
      return p440 > 20 * p700 && p1000 > 20 * p700 ? true : undefined;
    }, 20000);
    expect(await source('studio2')).toBe('mix');
    const conferenceId = (await gw.admin('GET', '/api/v1/channels/studio2')).body.conferenceId;
    // No compositor on the server for this session: no mix task, only the packager.
    const tasks = (await gw.admin('GET', '/api/v1/mix-tasks')).body as { conferenceId: string; state: string }[];
    expect(tasks.filter((t) => t.conferenceId === conferenceId && t.state === 'active')).toEqual([]);
    const packaging = /channel studio2: packaging the host's composed stream \((H\.264 copied|video encoded)\)/.exec(gw.output());
    // Debian's Chromium sends H.264, so the gateway remuxes the picture without re-encoding it.
    expect(packaging?.[1]).toBe('H.264 copied');
    await host.screenshot({ path: join(SHOTS, 'cohost-client-mode-host.png') });

    // Back to server mode during the session: the server's mix takes over at a keyframe, the viewer stays.
    const viewer = new FlvWatcher(channel.playUrls.flv);
    try {
      await waitFor('viewer playing', () => (viewer.frames.length > 10 ? true : undefined), 20000);
      const switchAskedAt = Date.now();
      await host.uncheck('#client-mix');
      await feedbackHas(host, 'mix mode set to server');
      await waitFor('server mix active', async () => {
        const all = (await gw.admin('GET', '/api/v1/mix-tasks')).body as { conferenceId: string; state: string }[];
        return all.some((t) => t.conferenceId === conferenceId && t.state === 'active') ? true : undefined;
      }, 20000);
      await waitForColors(channel.playUrls.flv, W, H, [{ region: MAIN, color: RED }, { region: GUEST_WINDOW, color: BLUE }], 30000);
      const whole = viewer.stats();
      expect(whole.connectionKept).toBe(true);
      expect(whole.maxBackwardMs).toBe(0);
      // Continuity from the splice on (it writes the mix's codec config): the frame before it, the step
      // into the mix, and the mix after. Before it, steps are the host browser's own frame timing (a
      // CPU-starved browser encoder skips frames, which no splice can put back).
      const spliceAt = viewer.configsAt.find((at) => at >= switchAskedAt);
      expect(spliceAt).toBeDefined();
      const seen = viewer.stats(spliceAt! - 1);
      expect(seen.frames).toBeGreaterThan(25);
      expect(seen.maxBackwardMs).toBe(0);
      expect(seen.maxTsStepMs).toBeLessThanOrEqual(500);
    } finally {
      viewer.stop();
    }
    await host.click('#end');
    await waitFor('host push back', async () => ((await source('studio2')) === 'host' ? true : undefined), 20000);
  }, 180000);
});
