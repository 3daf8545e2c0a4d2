import { io, Socket } from 'socket.io-client';
import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { FlvWatcher } from '../bench/support/viewer';
import { probe, publishTestStream, Publisher } from './support/media';
import { BLUE, floatRegions, RED, tonePowers, waitForColors } from './support/mix-checks';
import { waitFor } from '../bench/support/processes';

// The co-hosting mix matches the host's push (640x360 here), so viewers see no format change.
const W = 640;
const H = 360;
const { main: MAIN, guestWindow: CORNER_WINDOW } = floatRegions(W, H, 'anchor', 'guest1');

/**
 * Co-hosting headless: the host and the guest are RTMP participants (real
 * ffmpeg pushes), the socket flow is driven by socket.io-client, and the
 * channel's output is decoded from the real origin.
 */
describe('co-hosting flow (headless, RTMP participants)', () => {
  let gw: RunningGateway;
  let channel: { publishUrl: string; playUrls: { flv: string } };
  const sockets: Socket[] = [];
  const pushes: Publisher[] = [];
  const watchers: FlvWatcher[] = [];
  const events: Record<string, { event: string; payload: any }[]> = { anchor: [], guest1: [] };

  async function connect(userId: string, role: 'host' | 'viewer'): Promise<Socket> {
    const token = (await gw.admin('POST', '/api/v1/tokens', { userId, role, channelId: 'studio' })).body.token;
    const socket = io(gw.baseUrl, { auth: { token }, transports: ['websocket'] });
    socket.onAny((event, payload) => events[userId]?.push({ event, payload }));
    await new Promise((resolve) => socket.once('connect', resolve));
    sockets.push(socket);
    return socket;
  }
  const saw = (userId: string, event: string) => waitFor(`${userId} gets ${event}`, () => events[userId].find((e) => e.event === event)?.payload, 15000);
  const push = (url: string, color: string, toneHz: number) => {
    const p = publishTestStream(url, { color, toneHz, size: '640x360', fps: 25, seconds: 300 });
    pushes.push(p);
    return p;
  };

  beforeAll(async () => {
    gw = await startGateway({ env: { MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' } });
    channel = (await gw.admin('POST', '/api/v1/channels', { id: 'studio' })).body;
  });
  afterAll(async () => {
    if (process.env.DEBUG_GW) require('node:fs').writeFileSync('/tmp/gw-cohost.log', gw.output() + JSON.stringify((await gw.admin('GET', '/api/v1/mix-tasks')).body));
    for (const s of sockets) s.close();
    for (const w of watchers) w.stop();
    for (const p of pushes) await p.stop();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  it('invite, accept, mix into the channel, kick, then the host alone again', async () => {
    push(channel.publishUrl, '0xff0000', 440);
    await waitFor('live', async () => ((await gw.admin('GET', '/api/v1/channels/studio')).body.source === 'host' ? true : undefined));
    // A viewer stays connected through both switches.
    const viewer = new FlvWatcher(channel.playUrls.flv);
    watchers.push(viewer);
    const host = await connect('anchor', 'host');
    const guest = await connect('guest1', 'viewer');

    // Illegal moves get typed errors.
    expect(await guest.emitWithAck('cohost:invite', { channelId: 'studio', userId: 'x' })).toMatchObject({ ok: false, error: { code: 'NOT_CHANNEL_HOST' } });
    expect(await host.emitWithAck('cohost:invite', { channelId: 'studio', userId: 'anchor' })).toMatchObject({ ok: false, error: { code: 'ALREADY_ON_MIC' } });
    expect(await host.emitWithAck('cohost:invite', { channelId: 42 })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });

    const invited = await host.emitWithAck('cohost:invite', { channelId: 'studio', userId: 'guest1' });
    expect(invited).toMatchObject({ ok: true, invitationId: expect.stringMatching(/^inv_/), expiresAt: expect.any(String) });
    expect(await saw('guest1', 'cohost:invited')).toMatchObject({ invitationId: invited.invitationId, from: 'anchor' });
    expect(await host.emitWithAck('cohost:accept', { invitationId: invited.invitationId })).toMatchObject({ ok: false, error: { code: 'NOT_YOUR_MOVE' } });

    const accepted = await guest.emitWithAck('cohost:accept', { invitationId: invited.invitationId });
    expect(accepted).toMatchObject({ ok: true, conferenceId: expect.any(String) });
    expect(await guest.emitWithAck('cohost:accept', { invitationId: invited.invitationId })).toMatchObject({ ok: false, error: { code: 'INVITATION_ACCEPTED' } });
    const started = await saw('anchor', 'cohost:started');
    expect(started).toEqual({ channelId: 'studio', conferenceId: accepted.conferenceId });
    await saw('guest1', 'cohost:started');

    // Only the gateway publishes the channel: the host's key does not open it, nor does a second push.
    const key = new URL(channel.publishUrl).searchParams.get('key');
    const intruder = publishTestStream(`rtmp://127.0.0.1:${gw.rtmpPort}/live/studio?key=${key}`, { seconds: 5 });
    expect((await intruder.exited).code).not.toBe(0);
    const status = (await gw.admin('GET', '/api/v1/channels/studio')).body;
    expect(status).toMatchObject({ state: 'cohosting', conferenceId: accepted.conferenceId, mixTaskId: expect.any(String) });

    // Both join the conference as RTMP participants (OBS-style).
    for (const [userId, color, tone] of [['anchor', '0xff0000', 440], ['guest1', '0x0000ff', 1000]] as const) {
      const url = (await gw.admin('POST', `/api/v1/conferences/${accepted.conferenceId}/ingest`, { userId })).body.url;
      push(url, color, tone);
    }
    // Float layout: the host fills the canvas, the guest sits in a small window bottom-right.
    await waitForColors(channel.playUrls.flv, W, H, [
      { region: MAIN, color: RED },
      { region: CORNER_WINDOW, color: BLUE },
    ], 30000);
    await waitFor('both tones', async () => {
      const [p440, p1000, p700] = await tonePowers(channel.playUrls.flv, [440, 1000, 700]);
      return p440 > 20 * p700 && p1000 > 20 * p700 ? true : undefined;
    }, 20000);
    expect((await gw.admin('GET', '/api/v1/channels/studio')).body).toMatchObject({ state: 'cohosting', source: 'mix' });

    // Kick: the last guest gone ends the session and hands the channel back to the host.
    expect(await host.emitWithAck('cohost:kick', { channelId: 'studio', userId: 'guest1' })).toEqual({ ok: true });
    expect(await saw('guest1', 'cohost:kicked')).toEqual({ channelId: 'studio', userId: 'guest1' });
    expect(await saw('anchor', 'cohost:ended')).toMatchObject({ channelId: 'studio' });
    await waitFor('host alone', async () => ((await gw.admin('GET', '/api/v1/channels/studio')).body.source === 'host' ? true : undefined), 20000);
    // The host's own 640x360 picture again: its size as a new player sees it, then its colour.
    const video = (await probe(channel.playUrls.flv)).find((st) => st.codec_type === 'video');
    expect({ width: video?.width, height: video?.height }).toEqual({ width: 640, height: 360 });
    await waitForColors(channel.playUrls.flv, 640, 360, [{ region: MAIN, color: RED }], 20000);
    const [p440, p1000] = await tonePowers(channel.playUrls.flv, [440, 1000]);
    expect(p440).toBeGreaterThan(100 * p1000);
    expect((await gw.admin('GET', '/api/v1/channels/studio')).body).toMatchObject({ state: 'live', source: 'host' });

    // The viewer saw host → mix → host on one connection, with one continuous timeline.
    const seen = viewer.stats();
    expect(seen.connectionKept).toBe(true);
    expect(seen.frames).toBeGreaterThan(100);
    expect(seen.maxBackwardMs).toBe(0);
    expect(seen.maxTsStepMs).toBeLessThanOrEqual(500);
  });
});

describe('co-host invitations over sockets: expiry, cancel, seats, races, grace', () => {
  let gw: RunningGateway;
  const sockets: Socket[] = [];
  const inbox = new Map<string, { event: string; payload: any }[]>();

  async function connect(userId: string, role: 'host' | 'viewer', channelId = 'lobby'): Promise<Socket> {
    const token = (await gw.admin('POST', '/api/v1/tokens', { userId, role, channelId })).body.token;
    const socket = io(gw.baseUrl, { auth: { token }, transports: ['websocket'] });
    if (!inbox.has(userId)) inbox.set(userId, []);
    socket.onAny((event, payload) => inbox.get(userId)!.push({ event, payload }));
    await new Promise((resolve) => socket.once('connect', resolve));
    sockets.push(socket);
    return socket;
  }
  const got = (userId: string, event: string, timeoutMs = 10000) =>
    waitFor(`${userId} gets ${event}`, () => inbox.get(userId)!.find((e) => e.event === event)?.payload, timeoutMs);

  beforeAll(async () => {
    gw = await startGateway({ env: { COHOST_INVITE_TTL_SECONDS: '1', COHOST_MAX_GUESTS: '1', COHOST_GRACE_SECONDS: '1' } });
    await gw.admin('POST', '/api/v1/channels', { id: 'lobby' });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  it('expires, cancels, applies, keeps the seat limit, refuses a racing duplicate, and frees a seat after the grace', async () => {
    const host = await connect('boss', 'host');
    const amy = await connect('amy', 'viewer');
    const ben = await connect('ben', 'viewer');

    // Expiry after COHOST_INVITE_TTL_SECONDS, told to both sides.
    const first = await host.emitWithAck('cohost:invite', { channelId: 'lobby', userId: 'amy' });
    expect(await got('amy', 'cohost:expired', 5000)).toMatchObject({ invitationId: first.invitationId, state: 'expired' });
    expect(await got('boss', 'cohost:expired')).toMatchObject({ invitationId: first.invitationId });
    expect(await amy.emitWithAck('cohost:accept', { invitationId: first.invitationId })).toMatchObject({ ok: false, error: { code: 'INVITATION_EXPIRED' } });

    // Cancel by the inviter; accepting afterwards is refused.
    const second = await host.emitWithAck('cohost:invite', { channelId: 'lobby', userId: 'amy' });
    expect(await host.emitWithAck('cohost:cancel', { invitationId: second.invitationId })).toEqual({ ok: true });
    expect(await got('amy', 'cohost:cancelled')).toMatchObject({ invitationId: second.invitationId });
    expect(await amy.emitWithAck('cohost:accept', { invitationId: second.invitationId })).toMatchObject({ ok: false, error: { code: 'INVITATION_CANCELLED' } });

    // A viewer applies, the host accepts; a duplicate accept in the same instant is refused.
    const applied = await ben.emitWithAck('cohost:apply', { channelId: 'lobby' });
    expect(await got('boss', 'cohost:applied')).toMatchObject({ invitationId: applied.invitationId, from: 'ben' });
    const [a, b] = await Promise.all([
      host.emitWithAck('cohost:accept', { invitationId: applied.invitationId }),
      host.emitWithAck('cohost:accept', { invitationId: applied.invitationId }),
    ]);
    expect([a.ok, b.ok].sort()).toEqual([false, true]);
    expect([a, b].find((x) => !x.ok).error.code).toBe('INVITATION_ACCEPTED');
    await got('ben', 'cohost:started');

    // One seat (COHOST_MAX_GUESTS=1): inviting another is refused.
    expect(await host.emitWithAck('cohost:invite', { channelId: 'lobby', userId: 'amy' })).toMatchObject({ ok: false, error: { code: 'SEATS_FULL' } });
    expect(await host.emitWithAck('cohost:invite', { channelId: 'lobby', userId: 'ben' })).toMatchObject({ ok: false, error: { code: 'ALREADY_ON_MIC' } });

    // Ben's connection drops; after the grace he has left, the seat frees and the session ends.
    ben.close();
    expect(await got('boss', 'cohost:left', 5000)).toEqual({ channelId: 'lobby', userId: 'ben' });
    expect(await got('boss', 'cohost:ended')).toMatchObject({ channelId: 'lobby', reason: 'no guests left' });
    // Nobody pushes here: the mix stays on air for the grace period waiting for the host's push, then the channel goes idle.
    await waitFor('idle', async () => ((await gw.admin('GET', '/api/v1/channels/lobby')).body.state === 'idle' ? true : undefined), 15000);
    const third = await host.emitWithAck('cohost:invite', { channelId: 'lobby', userId: 'amy' });
    expect(third.ok).toBe(true);
    expect(await amy.emitWithAck('cohost:reject', { invitationId: third.invitationId, reason: 'not now' })).toEqual({ ok: true });
    expect(await got('boss', 'cohost:rejected')).toMatchObject({ invitationId: third.invitationId, reason: 'not now' });
  });
});
