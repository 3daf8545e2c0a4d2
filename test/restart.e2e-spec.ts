import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, Page } from 'playwright-core';
import { io, Socket } from 'socket.io-client';
import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { freePort, waitFor } from '../bench/support/processes';
import { launchChromium } from './support/browser';
import { publishTestStream, Publisher } from './support/media';
import { BLUE, floatRegions, RED, tonePowers, waitForColors } from './support/mix-checks';

const W = 640;
const H = 360;
const GREEN: [number, number, number] = [0, 255, 0];
const { main: MAIN, guestWindow: GUEST_WINDOW } = floatRegions(W, H, 'anchor', 'guest1');

/**
 * The gateway stops (SIGTERM) in the middle of a co-hosting session and of a
 * bypass mapping, and starts again on the same data directory. Everything is
 * real: the gateway process, SQLite file, mediasoup, ffmpeg, origin, and
 * Chromium for the guest (the web app's conference page, blue camera, 1 kHz).
 * The participants reconnect the way they would: OBS-style pushes to the same
 * URLs again, sockets and the web page reconnecting on their own.
 */
describe('gateway restart restores channels, conferences, mappings and co-hosting sessions', () => {
  let gw: RunningGateway;
  let dataDir: string;
  let env: Record<string, string>;
  let media: string;
  let browser: Browser;
  let page: Page;
  const sockets: Socket[] = [];
  let pushes: Publisher[] = [];
  const events: Record<string, { event: string; payload: any }[]> = { anchor: [], guest1: [] };

  const push = (url: string, color: string, toneHz: number) => {
    const p = publishTestStream(url, { color, toneHz, size: '640x360', fps: 25, seconds: 300 });
    pushes.push(p);
    return p;
  };
  async function connect(userId: string, role: 'host' | 'viewer'): Promise<Socket> {
    const token = (await gw.admin('POST', '/api/v1/tokens', { userId, role, channelId: 'studio', ttlSeconds: 3600 })).body.token;
    // Reconnects on its own, like the web app's socket.
    const socket = io(gw.baseUrl, { auth: { token }, transports: ['websocket'], reconnectionDelay: 200, reconnectionDelayMax: 1000 });
    socket.onAny((event, payload) => events[userId]?.push({ event, payload }));
    await new Promise((resolve) => socket.once('connect', resolve));
    sockets.push(socket);
    return socket;
  }
  const channel = async (id: string) => (await gw.admin('GET', `/api/v1/channels/${id}`)).body;

  beforeAll(async () => {
    const [port, rtmp, http] = [await freePort(), await freePort(), await freePort()];
    env = {
      EMBEDDED_RTMP_PORT: String(rtmp),
      EMBEDDED_HTTP_PORT: String(http),
      MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100),
      MIX_RTP_MAX_PORT: '59999',
      COHOST_GRACE_SECONDS: '20',
    };
    gw = await startGateway({ env, port });
    dataDir = gw.dataDir;
    media = mkdtempSync(join(tmpdir(), 'fake-media-'));
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=0x0000ff:size=640x360:rate=25', '-t', '2', '-pix_fmt', 'yuv420p', join(media, 'blue.y4m')]);
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000', '-t', '4', join(media, 'tone.wav')]);
    browser = await launchChromium([`--use-file-for-fake-video-capture=${join(media, 'blue.y4m')}`, `--use-file-for-fake-audio-capture=${join(media, 'tone.wav')}`]);
  });
  afterAll(async () => {
    await browser?.close();
    removeDir(media);
    for (const s of sockets) s.close();
    for (const p of pushes) await p.stop();
    await gw?.stop();
    removeDir(dataDir);
  });

  it('picks up where it stopped; mixes restart as participants come back', async () => {
    // A co-hosting session on `studio`: host red/440 in the picture, guest blue/1 kHz in the window.
    const studio = (await gw.admin('POST', '/api/v1/channels', { id: 'studio', title: 'Studio' })).body;
    push(studio.publishUrl, '0xff0000', 440);
    await waitFor('studio live', async () => ((await channel('studio')).source === 'host' ? true : undefined), 15000);
    const host = await connect('anchor', 'host');
    const guest = await connect('guest1', 'viewer');
    const invited = await host.emitWithAck('cohost:invite', { channelId: 'studio', userId: 'guest1' });
    const accepted = await guest.emitWithAck('cohost:accept', { invitationId: invited.invitationId });
    expect(accepted).toMatchObject({ ok: true });
    const cohostConference: string = accepted.conferenceId;
    const ingest: Record<string, string> = {};
    ingest.anchor = (await gw.admin('POST', `/api/v1/conferences/${cohostConference}/ingest`, { userId: 'anchor' })).body.url;
    push(ingest.anchor, '0xff0000', 440);
    // The guest is in the conference from the web app's conference page.
    const guestToken = (await gw.admin('POST', '/api/v1/tokens', { userId: 'guest1', role: 'viewer', channelId: 'studio', ttlSeconds: 3600 })).body.token;
    page = await browser.newPage();
    await page.goto(`${gw.baseUrl}/#/conference?id=${cohostConference}&token=${guestToken}`);
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'joined', undefined, { timeout: 20000 });
    const cohosting = [
      { region: MAIN, color: RED },
      { region: GUEST_WINDOW, color: BLUE },
    ];
    await waitForColors(studio.playUrls.flv, W, H, cohosting, 30000);

    // A meeting mapped to `meet` (bypass live, immediate), one RTMP speaker green/700.
    const meet = (await gw.admin('POST', '/api/v1/channels', { id: 'meet' })).body;
    const bossToken = (await gw.admin('POST', '/api/v1/tokens', { userId: 'boss', role: 'host' })).body.token;
    const meeting: string = (await gw.request('POST', '/api/v1/conferences', { body: { title: 'All hands' }, headers: { authorization: `Bearer ${bossToken}` } })).body.id;
    await gw.admin('POST', `/api/v1/conferences/${meeting}/members`, { userId: 'speaker' });
    ingest.speaker = (await gw.admin('POST', `/api/v1/conferences/${meeting}/ingest`, { userId: 'speaker' })).body.url;
    expect((await gw.admin('PUT', `/api/v1/conferences/${meeting}/live`, { channelId: 'meet', onDemand: false, layout: { mode: 'grid' } })).status).toBe(200);
    push(ingest.speaker, '0x00ff00', 700);
    await waitForColors(meet.playUrls.flv, 1280, 720, [{ region: { x: 500, y: 250, w: 280, h: 220 }, color: GREEN }], 30000);

    // SIGTERM: a clean stop (exit 0, nothing left behind), then the pushes drop as OBS's would.
    expect(await gw.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    await Promise.all(pushes.map((p) => p.exited));
    pushes = [];

    gw = await startGateway({ env, port: Number(new URL(gw.baseUrl).port), dataDir });
    expect(gw.output()).toMatch(new RegExp(`conference ${cohostConference} restored \\(2 members\\)`));
    expect(gw.output()).toMatch(/channel studio: co-hosting session restored \(conference \S+, 1 guests, server mixing\)/);
    expect(gw.output()).toMatch(new RegExp(`mapping of conference ${meeting} to channel meet restored`));

    // State is back before anyone reconnects: channels, the session's conference and members, the mapping.
    expect((await gw.admin('GET', '/api/v1/channels')).body.map((c: { id: string }) => c.id).sort()).toEqual(['meet', 'studio']);
    expect(await channel('studio')).toMatchObject({ title: 'Studio', state: 'cohosting', conferenceId: cohostConference });
    expect((await gw.admin('GET', `/api/v1/conferences/${cohostConference}`)).body.members.sort()).toEqual(['anchor', 'guest1']);
    expect((await gw.admin('GET', '/api/v1/live-map')).body).toEqual([
      expect.objectContaining({ conferenceId: meeting, channelId: 'meet', onDemand: false, layout: { mode: 'grid' } }),
    ]);
    // No mix runs before any participant is back.
    expect((await gw.admin('GET', '/api/v1/mix-tasks')).body).toEqual([]);

    // The sockets reconnect by themselves with their tokens; the host's desk is theirs again.
    await waitFor('sockets reconnected', () => (sockets.every((s) => s.connected) ? true : undefined), 15000);

    // Participants come back: the pushes on the same URLs (keys restored), the web page by itself; the mixes restart.
    push(studio.publishUrl, '0xff0000', 440);
    push(ingest.anchor, '0xff0000', 440);
    push(ingest.speaker, '0x00ff00', 700);
    await page.waitForFunction(() => (window.conferenceClient?.rejoins ?? 0) >= 1, undefined, { timeout: 20000 });
    await waitForColors(studio.playUrls.flv, W, H, cohosting, 40000);
    const [p440, p1000, p700] = await tonePowers(studio.playUrls.flv, [440, 1000, 700]);
    expect(p440).toBeGreaterThan(20 * p700);
    expect(p1000).toBeGreaterThan(20 * p700);
    expect(await channel('studio')).toMatchObject({ state: 'cohosting', source: 'mix', conferenceId: cohostConference });
    await waitForColors(meet.playUrls.flv, 1280, 720, [{ region: { x: 500, y: 250, w: 280, h: 220 }, color: GREEN }], 30000);

    // The restored session is a real one: the host ends it and the channel is the host's again.
    expect(await host.emitWithAck('cohost:end', { channelId: 'studio' })).toEqual({ ok: true });
    await waitFor('host alone', async () => ((await channel('studio')).source === 'host' ? true : undefined), 20000);
    expect(await channel('studio')).toMatchObject({ state: 'live', source: 'host' });
  }, 240000);
});

/**
 * After a restart nobody comes back: the restored session ends after the
 * grace period, its conference with it, and nothing is left saved (a second
 * restart restores nothing).
 */
describe('gateway restart when nobody comes back', () => {
  let gw: RunningGateway;
  let dataDir: string;
  let env: Record<string, string>;
  let port: number;
  const sockets: Socket[] = [];
  const pushes: Publisher[] = [];

  beforeAll(async () => {
    port = await freePort();
    env = { COHOST_GRACE_SECONDS: '2', CONFERENCE_IDLE_SECONDS: '60', MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' };
    gw = await startGateway({ env, port });
    dataDir = gw.dataDir;
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const p of pushes) await p.stop();
    await gw?.stop();
    removeDir(dataDir);
  });

  it('ends the restored session after the grace, and forgets it', async () => {
    const studio = (await gw.admin('POST', '/api/v1/channels', { id: 'lonely' })).body;
    pushes.push(publishTestStream(studio.publishUrl, { color: '0xff0000', seconds: 300 }));
    await waitFor('live', async () => ((await gw.admin('GET', '/api/v1/channels/lonely')).body.source === 'host' ? true : undefined), 15000);
    const token = async (userId: string, role: string) => (await gw.admin('POST', '/api/v1/tokens', { userId, role, channelId: 'lonely' })).body.token;
    const host = io(gw.baseUrl, { auth: { token: await token('anchor', 'host') }, transports: ['websocket'], reconnection: false });
    const guest = io(gw.baseUrl, { auth: { token: await token('guest1', 'viewer') }, transports: ['websocket'], reconnection: false });
    sockets.push(host, guest);
    await Promise.all([host, guest].map((s) => new Promise((resolve) => s.once('connect', resolve))));
    const invited = await host.emitWithAck('cohost:invite', { channelId: 'lonely', userId: 'guest1' });
    const { conferenceId } = await guest.emitWithAck('cohost:accept', { invitationId: invited.invitationId });
    expect((await gw.admin('GET', '/api/v1/channels/lonely')).body).toMatchObject({ state: 'cohosting', conferenceId });

    expect(await gw.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    await pushes[0].exited;
    gw = await startGateway({ env, port, dataDir });
    expect(gw.output()).toMatch(/channel lonely: co-hosting session restored/);
    expect((await gw.admin('GET', '/api/v1/channels/lonely')).body).toMatchObject({ state: 'cohosting', conferenceId });

    // Neither the host nor the guest reconnects: after COHOST_GRACE_SECONDS the session ends and its conference with it.
    await waitFor('session ended', async () => ((await gw.admin('GET', '/api/v1/channels/lonely')).body.state !== 'cohosting' ? true : undefined), 15000);
    await waitFor('conference gone', async () => ((await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).status === 404 ? true : undefined), 15000);
    expect(gw.output()).toMatch(/channel lonely: co-hosting ended \(host disconnected\)/);

    // Nothing of it is saved any more.
    expect(await gw.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    gw = await startGateway({ env, port, dataDir });
    expect(gw.output()).not.toMatch(/restored/);
    expect((await gw.admin('GET', '/api/v1/conferences')).body).toEqual([]);
    expect((await gw.admin('GET', '/api/v1/channels/lonely')).body).toMatchObject({ state: 'idle' });
  }, 90000);
});
