import { Browser } from 'playwright-core';
import { ask, connectAs, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { launchChromium } from './support/browser';
import { waitFor } from '../bench/support/processes';
import { PictureProbe } from '../bench/support/picture-probe';
import { Rgb } from './support/media-analysis';
import { publishTestStream, Publisher } from './support/media';
import { BLUE, colorsAt, RED, waitForColors } from './support/mix-checks';

const W = 1280;
const H = 720;
const GREEN: Rgb = [0, 255, 0];
const BLACK: Rgb = [0, 0, 0];

/**
 * A meeting with slides on air (issue 20): real processes throughout. Two
 * cameras (ffmpeg pushes over their ingest URLs, alice red, bob blue) and a
 * presentation PC (`slides`, an ffmpeg pushing green 1280x720 at 10 fps) on
 * an ingest URL of kind screen. The mix runs `presentation`: the grid until
 * the screen is shared, then the screen large (fit, letterboxed, never
 * enlarged) with the cameras in a column beside it, and the grid again when
 * the share stops; the output relay and the viewer's connection stay.
 */
describe('presentation layout: a shared screen large, the cameras beside it', () => {
  let gw: RunningGateway;
  const pushes: Publisher[] = [];
  let slides: Publisher | undefined;
  let viewer: PictureProbe | undefined;
  let channel: { id: string; publishUrl: string; playUrls: { flv: string } };
  let conferenceId: string;

  beforeAll(async () => {
    gw = await startGateway();
    channel = (await gw.admin('POST', '/api/v1/channels', { id: `pres${Math.random().toString(36).slice(2, 8)}` })).body;
    const hostToken = (await gw.admin('POST', '/api/v1/tokens', { userId: 'anchor', role: 'host' })).body.token;
    conferenceId = (await gw.request('POST', '/api/v1/conferences', { body: { title: 'all hands' }, headers: { authorization: `Bearer ${hostToken}` } })).body.id;
    for (const userId of ['alice', 'bob', 'slides', 'web', 'watch']) await gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId });
    for (const [userId, color, toneHz] of [['alice', '0xff0000', 440], ['bob', '0x0000ff', 1000]] as const) {
      const url = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId })).body.url;
      pushes.push(publishTestStream(url, { color, toneHz, size: '640x360', fps: 25, seconds: 300 }));
    }
  }, 60000);

  let browser: Browser | undefined;
  const presentationMix = () => ({
    conferenceId,
    outputs: [{ url: channel.publishUrl }],
    layout: { mode: 'presentation' },
    video: { width: W, height: H, fps: 15, bitrateKbps: 1500, gopSeconds: 1 },
  });

  afterAll(async () => {
    await browser?.close();
    viewer?.close();
    await slides?.stop();
    await Promise.all(pushes.map((p) => p.stop()));
    await gw?.stop();
    if (gw) removeDir(gw.dataDir);
  });

  it('switches to the presentation by itself when a screen is shared and back to the grid when it stops, without restarting outputs', async () => {
    // Retry-safe: no mix task and no screen push from a last try.
    await slides?.stop();
    slides = undefined;
    viewer?.close();
    for (const t of (await gw.admin('GET', '/api/v1/mix-tasks')).body as { id: string }[]) await gw.admin('DELETE', `/api/v1/mix-tasks/${t.id}`);
    // A bad kind is refused, typed.
    expect((await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId: 'slides', kind: 'slideshow' })).body.error.code).toBe('VALIDATION_FAILED');
    await waitFor('both cameras producing', async () => {
      const { participants } = (await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body;
      return ['alice', 'bob'].every((u) => participants.some((p: { userId: string; video: boolean }) => p.userId === u && p.video)) ? true : undefined;
    }, 20000);
    const task = await gw.admin('POST', '/api/v1/mix-tasks', presentationMix());
    expect(task.status).toBe(201);
    const view = async () => (await gw.admin('GET', `/api/v1/mix-tasks/${task.body.id}`)).body;
    const inset = (c: { x: number; y: number; width: number; height: number }) => ({ x: c.x + c.width / 4, y: c.y + c.height / 4, w: c.width / 2, h: c.height / 2 });
    // The grid: alice and bob side by side (in the order they joined), each in its half.
    const showsGrid = async () => {
      const cells = await waitFor('two cells', async () => {
        const c = (await view()).layout.cells as { userId: string; x: number; y: number; width: number; height: number }[];
        return c.length === 2 ? c : undefined;
      }, 20000);
      expect(cells.map((c) => c.width)).toEqual([640, 640]);
      await waitForColors(channel.playUrls.flv, W, H, [{ region: inset(cells.find((c) => c.userId === 'alice')!), color: RED }, { region: inset(cells.find((c) => c.userId === 'bob')!), color: BLUE }], 20000);
    };
    // No screen yet: the grid.
    await showsGrid();
    viewer = PictureProbe.flv(channel.playUrls.flv, { width: 320, height: 180 });
    await waitFor('the viewer plays', () => (viewer!.frames.length > 10 ? true : undefined), 15000);
    const before = await view();
    expect(before.layout.cells.map((c: { userId: string }) => c.userId).sort()).toEqual(['alice', 'bob']);
    const relays = before.processes.outputs as number[];
    expect(relays.filter(Boolean).length).toBe(1);

    // The presentation PC starts sharing: an RTMP push on its screen ingest URL.
    const screenUrl = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId: 'slides', kind: 'screen' })).body.url;
    const sharedAt = Date.now();
    slides = publishTestStream(screenUrl, { color: '0x00ff00', toneHz: 2000, size: '1280x720', fps: 10, seconds: 300 });
    const presenting = await waitFor('the presentation layout', async () => {
      const cells = (await view()).layout.cells as { userId: string; x: number; y: number; width: number; height: number; fit: string }[];
      return cells.some((c) => c.userId === 'slides:screen') ? cells : undefined;
    }, 20000);
    const screen = presenting.find((c) => c.userId === 'slides:screen')!;
    expect(screen).toMatchObject({ x: 0, y: 0, width: 1024, height: 720, fit: 'contain-down' });
    // The slides PC sends nothing but its screen: it has no camera tile of its own.
    expect(presenting.map((c) => c.userId).sort()).toEqual(['alice', 'bob', 'slides:screen']);
    const [alice, bob] = ['alice', 'bob'].map((u) => presenting.find((c) => c.userId === u)!);
    for (const c of [alice, bob]) expect(c.x).toBeGreaterThanOrEqual(1024);
    // In the picture: the screen large and letterboxed (1280x720 fit into 1024x720 is 1024x576, bars
    // above and below, nothing cropped or stretched), the cameras in the column.
    await waitForColors(channel.playUrls.flv, W, H, [
      { region: { x: 100, y: 120, w: 824, h: 480 }, color: GREEN },
      { region: { x: 100, y: 10, w: 824, h: 50 }, color: BLACK },
      { region: { x: 100, y: 660, w: 824, h: 50 }, color: BLACK },
      { region: inset(alice), color: RED },
      { region: inset(bob), color: BLUE },
    ], 20000);
    process.stdout.write(`presentation: share pushed → screen large at the reader in ${Date.now() - sharedAt} ms (includes the push's own start)\n`);
    // Letterbox edges where a 1024x576 picture should end: green just inside, black just outside.
    const [inside, outside] = await colorsAt(channel.playUrls.flv, W, H, [{ x: 100, y: 76, w: 824, h: 6 }, { x: 100, y: 62, w: 824, h: 6 }]);
    expect(inside[1]).toBeGreaterThan(200);
    expect(outside[1]).toBeLessThan(60);

    // The share stops: the grid again, by itself.
    const stoppedAt = Date.now();
    await slides.stop();
    slides = undefined;
    await waitFor('the grid again', async () => ((await view()).layout.cells.every((c: { userId: string }) => c.userId !== 'slides:screen') ? true : undefined), 20000);
    await showsGrid();
    process.stdout.write(`presentation: share stopped → grid at the reader in ${Date.now() - stoppedAt} ms\n`);

    // Through both switches: the same relay process, no retries, the viewer's connection never ended.
    const after = await view();
    expect(after.processes.outputs).toEqual(relays);
    expect(after).toMatchObject({ state: 'active', outputs: [{ state: 'live', retries: 0 }] });
    expect(viewer.endedAt).toBeUndefined();
    const lastSeen = viewer.frames[viewer.frames.length - 1].at;
    expect(Date.now() - lastSeen).toBeLessThan(2000);
  }, 150000);

  it("shares a Chromium page's screen: a second video of kind screen, large in the mix and at the other participants, until it stops", async () => {
    // Headless Chromium's fake screen (1280x720) is picked without asking.
    browser ??= await launchChromium(['--auto-select-desktop-capture-source=Entire screen']);
    const open = async (userId: string) => {
      const token = (await gw.admin('POST', '/api/v1/tokens', { userId, role: 'guest' })).body.token;
      const page = await browser!.newPage();
      await page.goto(`${gw.baseUrl}/#/conference?id=${conferenceId}&token=${token}`);
      await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'joined', undefined, { timeout: 20000 });
      return page;
    };
    // The first test's mix, or one of its own when run alone.
    const task = ((await gw.admin('GET', '/api/v1/mix-tasks')).body as { id: string }[])[0] ?? (await gw.admin('POST', '/api/v1/mix-tasks', presentationMix())).body;
    const view = async () => (await gw.admin('GET', `/api/v1/mix-tasks/${task.id}`)).body;
    const web = await open('web');
    const watch = await open('watch');
    try {
      await web.click('#share');
      await web.waitForFunction(() => window.conferenceClient!.sharing && document.querySelector('#share')?.textContent === 'Stop sharing', undefined, { timeout: 10000 });
      // The mix puts the page's screen large, decoded (frames arriving, not stalled).
      const cells = await waitFor('web:screen large', async () => {
        const v = await view();
        const screen = v.layout.cells.find((c: { userId: string }) => c.userId === 'web:screen');
        return screen && v.pictures['web:screen']?.stalled === false ? v.layout.cells : undefined;
      }, 30000);
      expect(cells.find((c: { userId: string }) => c.userId === 'web:screen')).toMatchObject({ x: 0, y: 0, width: 1024, height: 720, fit: 'contain-down' });
      expect(cells.find((c: { userId: string }) => c.userId === 'web')).toMatchObject({ x: 1024 });
      // The conference lists the share.
      const { participants } = (await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body;
      expect(participants.find((p: { userId: string }) => p.userId === 'web')).toMatchObject({ video: true, screen: true });
      // The other page receives it as a tile of its own and decodes it.
      await watch.waitForFunction(() => {
        const remote = window.conferenceClient!.remotes.get('web:screen');
        return remote && remote.via === 'screen' && remote.stream.getVideoTracks().length === 1;
      }, undefined, { timeout: 15000 });
      const decoded = await watch.evaluate(async () => {
        const pc = window.conferenceClient!.recvTransport as unknown as { getStats(): Promise<RTCStatsReport> };
        let frames = 0;
        let width = 0;
        (await pc.getStats()).forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'video' && (r.frameWidth ?? 0) > width) {
            width = r.frameWidth;
            frames = r.framesDecoded;
          }
        });
        return { frames, width };
      });
      expect(decoded.width).toBeGreaterThanOrEqual(1280);
      expect(decoded.frames).toBeGreaterThan(0);

      // Stop: the tile goes from the mix and from the other page.
      await web.click('#share');
      await waitFor('the grid again', async () => ((await view()).layout.cells.every((c: { userId: string }) => !c.userId.endsWith(':screen')) ? true : undefined), 20000);
      await watch.waitForFunction(() => !window.conferenceClient!.remotes.has('web:screen'), undefined, { timeout: 10000 });

      // The host ends a share: the page is told and stops capturing; the mix goes back to the grid.
      await web.click('#share');
      await waitFor('shared again', async () => ((await view()).layout.cells.some((c: { userId: string }) => c.userId === 'web:screen') ? true : undefined), 30000);
      const host = await connectAs(gw, 'anchor', 'host');
      try {
        expect(await ask(host, 'media:stopShare', { conferenceId, userId: 'web' })).toMatchObject({ ok: true });
      } finally {
        host.close();
      }
      await web.waitForFunction(() => !window.conferenceClient!.sharing && document.querySelector('#share')?.textContent === 'Share screen', undefined, { timeout: 10000 });
      await waitFor('the grid after the host stopped it', async () => ((await view()).layout.cells.every((c: { userId: string }) => !c.userId.endsWith(':screen')) ? true : undefined), 20000);

      // The host's own conference page mutes web's microphone from web's line (the host's mute locks):
      // web's page says so, turns its microphone off, and cannot unmute it; the host's page can.
      const hostToken = (await gw.admin('POST', '/api/v1/tokens', { userId: 'anchor', role: 'host' })).body.token;
      const hostPage = await browser!.newPage();
      try {
        await hostPage.goto(`${gw.baseUrl}/#/conference?id=${conferenceId}&token=${hostToken}`);
        await hostPage.waitForFunction(() => document.querySelector('#status')?.textContent === 'joined', undefined, { timeout: 20000 });
        await hostPage.click('#people li[data-user="web"] button[data-action="mute-audio"]');
        await waitFor('web muted', async () => {
          const p = (await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body.participants.find((x: { userId: string }) => x.userId === 'web');
          return p?.muted?.audio && p.muteLocked?.audio ? true : undefined;
        }, 10000);
        await web.waitForFunction(() => document.querySelector('#people li[data-user="web"]')?.textContent?.includes('audio muted (locked)'), undefined, { timeout: 10000 });
        expect(await web.evaluate(() => window.conferenceClient!.mutes.get('web')?.audio)).toEqual({ muted: true, locked: true });
        await web.click('#people li[data-user="web"] button[data-action="unmute-audio"]');
        await web.waitForFunction(() => document.querySelector('#people li[data-user="web"] .error')?.textContent?.includes('MUTE_LOCKED'), undefined, { timeout: 10000 });
        await hostPage.click('#people li[data-user="web"] button[data-action="unmute-audio"]');
        await web.waitForFunction(() => !window.conferenceClient!.mutes.get('web')?.audio?.muted, undefined, { timeout: 10000 });
      } finally {
        await hostPage.close();
      }
    } finally {
      await web.close();
      await watch.close();
    }
  }, 120000);
});
