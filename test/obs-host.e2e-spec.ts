import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, Page } from 'playwright-core';
import { io, Socket } from 'socket.io-client';
import { computeLayout } from '@gw/mixing';
import { ask, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { RunningNginx, startNginxRtmp } from '../bench/support/nginx';
import { PictureProbe, ProbeFrame } from '../bench/support/picture-probe';
import { waitFor } from '../bench/support/processes';
import { launchChromium, writeFakeCamera } from './support/browser';
import { publishTestStream, Publisher } from './support/media';
import { BLUE, RED, tonePowers } from './support/mix-checks';

const W = 640;
const H = 360;
const GREEN: [number, number, number] = [0, 255, 0];

/**
 * A host who streams from OBS (here: ffmpeg) and keeps pushing throughout
 * co-hosting, never touching a browser: the gateway makes that push the
 * host's picture in the conference. A guest joins by RTMP ingest, a second
 * one with Chromium. A viewer-side probe decodes the channel frame by frame:
 * every frame from before the first accept until after the host is alone
 * again shows the host (its colour and its moving frame counter); each guest
 * appears within 1.5 s of accepting. Once on the embedded origin, once on a
 * stock nginx-rtmp (one `live` application, no hooks).
 */
describe.each(['embedded', 'nginx-rtmp'] as const)('an OBS host keeps pushing through co-hosting (%s)', (origin) => {
  let gw: RunningGateway;
  let nginx: RunningNginx | undefined;
  let browser: Browser;
  let media: string;
  let probe: PictureProbe | undefined;
  const pushes: Publisher[] = [];
  const sockets: Socket[] = [];
  const pages: Page[] = [];

  beforeAll(async () => {
    media = mkdtempSync(join(tmpdir(), 'obs-host-'));
    writeFakeCamera(join(media, 'green.y4m'), '0x00ff00');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=1500:sample_rate=48000', '-t', '4', join(media, 'tone.wav')]);
    browser = await launchChromium([`--use-file-for-fake-video-capture=${join(media, 'green.y4m')}`, `--use-file-for-fake-audio-capture=${join(media, 'tone.wav')}`]);
    if (origin === 'nginx-rtmp') nginx = await startNginxRtmp();
    gw = await startGateway({
      env: {
        MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100),
        MIX_RTP_MAX_PORT: '59999',
        ...(nginx ? { LIVE_ORIGIN: nginx.liveBase } : {}),
      },
    });
  }, 60000);

  afterAll(async () => {
    probe?.close();
    for (const s of sockets) s.close();
    for (const p of pushes) await p.stop();
    await browser?.close();
    await gw?.stop();
    await nginx?.stop();
    removeDir(gw.dataDir);
    rmSync(media, { recursive: true, force: true });
  });

  // A channel per attempt: a retry must not meet the first attempt's channel (or its pushes).
  let attempt = 0;
  let channelId = 'obs';
  const token = async (userId: string, role: string) => (await gw.admin('POST', '/api/v1/tokens', { userId, role, channelId })).body.token as string;
  const connect = async (userId: string, role: string) => {
    const socket = io(gw.baseUrl, { auth: { token: await token(userId, role) }, transports: ['websocket'] });
    await new Promise((resolve) => socket.once('connect', resolve));
    sockets.push(socket);
    return socket;
  };
  const floatCells = (guests: string[]) => computeLayout({ spec: { mode: 'float' }, canvas: { width: W, height: H }, userIds: ['anchor', ...guests], hostUserId: 'anchor' });

  it('shows the host in every frame while guests come and go', async () => {
    attempt += 1;
    channelId = `obs-${attempt}`;
    probe?.close();
    for (const p of pushes.splice(0)) await p.stop();
    for (const s of sockets.splice(0)) s.close();
    for (const p of pages.splice(0)) await p.close().catch(() => undefined);
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: channelId })).body;
    // The "OBS" host: red, 440 Hz, a frame counter; pushing the whole time.
    pushes.push(publishTestStream(channel.publishUrl, { color: '0xff0000', toneHz: 440, fps: 25, seconds: 300, counter: true }));
    await waitFor('host on air', async () => ((await gw.admin('GET', `/api/v1/channels/${channelId}`)).body.source === 'host' ? true : undefined), 20000);

    const [rg, wg] = floatCells(['rg', 'wg']).slice(1);
    const tiles = [
      { id: 'anchor', cell: { x: 0, y: 0, width: W, height: H }, color: RED },
      { id: 'rg', cell: rg, color: BLUE },
      { id: 'wg', cell: wg, color: GREEN },
    ];
    probe = nginx
      ? PictureProbe.direct(`${nginx.liveBase}/${channelId}`, { width: W, height: H, tiles })
      : PictureProbe.flv(channel.playUrls.flv, { width: W, height: H, tiles });
    const firstPicture = await probe.waitForShowing(['anchor'], { timeoutMs: 20000 });
    // Judged from 2 s after the player's first picture: ffmpeg reading RTMP with -fflags nobuffer (the
    // nginx-rtmp probe) shows a start-up artefact in its first second (a black frame, then the packets
    // it read while probing once more); the co-hosting switch comes well after that.
    await probe.waitUntilArrived(firstPicture.at + 2000);
    const watchFrom = Date.now();

    const host = await connect('anchor', 'host');
    const guest = await connect('rg', 'viewer');
    // The RTMP guest: invited, accepts, pushes blue with its own token to its own ingest URL.
    const { invitationId } = await ask(host, 'cohost:invite', { channelId, userId: 'rg' });
    const acceptedAt = Date.now();
    const accepted = await ask(guest, 'cohost:accept', { invitationId });
    expect(accepted).toMatchObject({ ok: true, conferenceId: expect.any(String) });
    const conferenceId = accepted.conferenceId as string;
    const ingest = await gw.request('POST', `/api/v1/conferences/${conferenceId}/ingest`, { body: { userId: 'rg' }, headers: { authorization: `Bearer ${await token('rg', 'viewer')}` } });
    expect(ingest.status).toBe(201);
    pushes.push(publishTestStream(ingest.body.url, { color: '0x0000ff', toneHz: 1000, fps: 25, seconds: 300, counter: true }));

    // The host's push is the host's participant, its H.264 passed through (x264 baseline fits the router).
    const conference = await waitFor('host in the conference from its push', async () => {
      const { body } = await gw.admin('GET', `/api/v1/conferences/${conferenceId}`);
      const anchor = body.participants.find((p: { userId: string }) => p.userId === 'anchor');
      return anchor?.video && anchor.transcoded !== undefined ? body : undefined;
    }, 15000);
    expect(conference.participants.find((p: { userId: string }) => p.userId === 'anchor')).toMatchObject({ via: 'rtmp', audio: true, video: true, transcoded: false });

    const withGuest = await probe.waitForShowing(['anchor', 'rg'], { after: acceptedAt, timeoutMs: 15000 });
    expect(withGuest.at - acceptedAt).toBeLessThanOrEqual(1500 + 1000); // + the guest's own push start-up, which the gateway does not control
    // Both voices: the host's push carries its audio into the mix too.
    const [p440, p1000, p700] = await tonePowers(nginx ? `${nginx.liveBase}/${channelId}` : channel.playUrls.flv, [440, 1000, 700]);
    expect(p440).toBeGreaterThan(20 * p700);
    expect(p1000).toBeGreaterThan(20 * p700);

    // The Chromium guest: accepts on the guest page, which joins with its camera (green).
    const page = await browser.newPage();
    pages.push(page);
    await page.goto(`${gw.baseUrl}/#/guest?channel=${channelId}&token=${await token('wg', 'viewer')}`);
    await page.waitForFunction(() => window.guestPage?.connected === true, undefined, { timeout: 20000 });
    await ask(host, 'cohost:invite', { channelId, userId: 'wg' });
    const webAcceptedAt = Date.now();
    await page.click('#invitations button.accept', { timeout: 20000 });
    await page.waitForFunction(() => window.guestPage?.joined === true, undefined, { timeout: 30000 });
    const withBoth = await probe.waitForShowing(['anchor', 'rg', 'wg'], { after: webAcceptedAt, timeoutMs: 20000 });
    expect(withBoth.at).toBeGreaterThan(webAcceptedAt);

    // The host ends co-hosting; the channel is the host's push alone again.
    const endedAt = Date.now();
    expect(await ask(host, 'cohost:end', { channelId })).toMatchObject({ ok: true });
    await waitFor('host alone', async () => ((await gw.admin('GET', `/api/v1/channels/${channelId}`)).body.source === 'host' ? true : undefined), 20000);
    const alone = await waitFor('host alone at the viewer', () => probe!.frames.find((f) => f.at > endedAt && f.showing.includes('anchor') && !f.showing.includes('rg') && !f.showing.includes('wg') && hostFills(f)), 20000);
    await probe.waitUntilArrived(alone.at + 2000);

    // Frame by frame, from before the first accept to 2 s after the host is alone again.
    const watched = probe.frames.filter((f) => f.at >= watchFrom && f.at <= alone.at + 2000);
    const withoutHost = watched.filter((f) => !f.showing.includes('anchor'));
    expect(withoutHost.slice(0, 5).map((f) => describeFrame(f, probe!.frames))).toEqual([]);
    expect(watched.length).toBeGreaterThan(100);
    // The host's counter keeps moving: their pictures are live, not a frozen last frame.
    const hostStats = probe.rate(watchFrom, alone.at + 2000);
    process.stdout.write(`obs-host (${origin}): the host's longest still ${hostStats.maxDistinctGapMs} ms over ${watched.length} pictures\n`);
    expect(hostStats.maxDistinctGapMs).toBeLessThan(500);
    expect(probe.endedAt).toBeUndefined();
  }, 150000);
});

/** The host's own picture fills the frame (its colour where the guest windows were). */
function hostFills(f: ProbeFrame): boolean {
  const c = f.colors.rg;
  return c !== undefined && c[0] > 200 && c[1] < 60 && c[2] < 60;
}

/** A frame and its neighbours' host counters, for a failure message. */
function describeFrame(f: ProbeFrame, all: ProbeFrame[]): string {
  const around = all.slice(Math.max(0, f.index - 2), f.index + 3).map((g) => g.counters.anchor ?? '-').join(' ');
  return `#${f.index} ${new Date(f.at).toISOString()} showing [${f.showing.join(',')}] colours ${JSON.stringify(Object.fromEntries(Object.entries(f.colors).map(([k, v]) => [k, v.map(Math.round)])))} counters ${JSON.stringify(f.counters)} (host counters around: ${around})`;
}
