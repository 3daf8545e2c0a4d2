import { readFileSync } from 'node:fs';
import { Socket } from 'socket.io-client';
import { ask, connectAs, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { descendantPids, freeUdpPort, isRunning, waitFor } from '../bench/support/processes';
import { publishTestStream, Publisher } from './support/media';
import { BLUE, floatRegions, RED, tonePowers, waitForColors } from './support/mix-checks';

const W = 640;
const H = 360;
const { main: MAIN, guestWindow: GUEST_WINDOW } = floatRegions(W, H, 'anchor', 'guest1');


/** The gateway's children that serve SRT callers (srt-live-transmit listeners and their remuxing ffmpegs). */
const srtProcesses = (gw: RunningGateway) =>
  descendantPids(gw.pid).filter((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return isRunning(pid) && (cmd.includes('srt-live-transmit') || (cmd.includes('ffmpeg') && cmd.includes('mpegts\0-i\0pipe:0')));
    } catch {
      return false;
    }
  });

/**
 * SRT ingest (issue 17 §3; libs/live/src/srt): the built gateway with its
 * SRT port, Debian's srt-live-transmit behind it, ffmpeg as the SRT encoders.
 * A host pushes its channel over SRT and goes on air as an RTMP push does; a
 * guest co-hosts over SRT with the conference's ingest point; the viewer's
 * decoded picture and sound show both. A wrong key is refused at the
 * handshake while the channel stays on air, and every SRT process ends with
 * its caller.
 */
describe('SRT ingest', () => {
  let gw: RunningGateway;
  let srtPort: number;
  const pushes: Publisher[] = [];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    srtPort = await freeUdpPort();
    gw = await startGateway({ env: { SRT_PORT: String(srtPort), MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' } });
  }, 60000);

  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const p of pushes) await p.stop();
    await gw?.stop();
    if (gw) removeDir(gw.dataDir);
  });

  let attempt = 0;
  it('puts an SRT push on air like an RTMP one, co-hosts over SRT, and refuses a wrong key', async () => {
    // Jest retries a failed E2E once: a retry gets its own channel and guest, without the last try's pushes.
    for (const p of pushes.splice(0)) await p.stop();
    for (const s of sockets.splice(0)) s.close();
    const id = `srt${++attempt}`;
    const guestId = `guest${attempt}`;
    const channel = (await gw.admin('POST', '/api/v1/channels', { id })).body;
    expect(channel.ingest.rtmp).toBe(channel.publishUrl);
    expect(channel.ingest.srt).toMatch(new RegExp(`^srt://127\\.0\\.0\\.1:${srtPort}\\?streamid=#!::r=live/${id}__host,s=[A-Za-z0-9_-]+,m=publish$`));
    // Where the host pushes carries its key: the admin and the channel's host see it, a viewer does not.
    const tokenOf = async (userId: string, role: string) => (await gw.admin('POST', '/api/v1/tokens', { userId, role, channelId: id })).body.token as string;
    const asViewer = await gw.request('GET', `/api/v1/channels/${id}`, { headers: { authorization: `Bearer ${await tokenOf('fan', 'viewer')}` } });
    expect(asViewer.status).toBe(200);
    expect(asViewer.body.ingest).toBeUndefined();
    const asHost = await gw.request('GET', `/api/v1/channels/${id}`, { headers: { authorization: `Bearer ${await tokenOf('anchor', 'host')}` } });
    expect(asHost.body.ingest).toEqual(channel.ingest);

    // The host pushes over SRT (MPEG-TS): red, 440 Hz.
    pushes.push(publishTestStream(channel.ingest.srt, { color: '0xff0000', toneHz: 440, seconds: 120 }));
    await waitFor('the SRT push on air', async () => ((await gw.admin('GET', `/api/v1/channels/${id}`)).body.source === 'host' ? true : undefined), 20000);
    await waitForColors(channel.playUrls.flv, W, H, [{ region: { x: 100, y: 100, w: 400, h: 160 }, color: RED }], 20000);
    const [p440, p1000] = await tonePowers(channel.playUrls.flv, [440, 1000]);
    expect(p440).toBeGreaterThan(20 * p1000);

    // A wrong key is refused at SRT's handshake, at once; the channel stays on air.
    const wrong = publishTestStream(channel.ingest.srt.replace(/,s=[^,]+/, ',s=not-the-key'), { color: '0x00ff00', seconds: 10 });
    const refusedAt = Date.now();
    const exit = await wrong.exited;
    expect(exit.code).not.toBe(0);
    expect(Date.now() - refusedAt).toBeLessThan(5000);
    expect((await gw.admin('GET', `/api/v1/channels/${id}`)).body.source).toBe('host');

    // A guest co-hosts over SRT: the conference's ingest point says where.
    const host = await connectAs(gw, 'anchor', 'host', id);
    const guest = await connectAs(gw, guestId, 'viewer', id);
    sockets.push(host, guest);
    const { invitationId } = await ask(host, 'cohost:invite', { channelId: id, userId: guestId });
    const { conferenceId } = await ask(guest, 'cohost:accept', { invitationId });
    const point = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId: guestId })).body;
    expect(point.url).toMatch(/^rtmp:\/\//);
    expect(point.srt).toMatch(new RegExp(`^srt://127\\.0\\.0\\.1:${srtPort}\\?streamid=#!::r=ingest/in-[0-9a-f]+,s=[A-Za-z0-9_-]+,m=publish$`));
    pushes.push(publishTestStream(point.srt, { color: '0x0000ff', toneHz: 1000, seconds: 120 }));
    // The host's SRT push is the host's picture in the mix, the guest's SRT push its window.
    await waitForColors(channel.playUrls.flv, W, H, [{ region: MAIN, color: RED }, { region: GUEST_WINDOW, color: BLUE }], 40000);
    const [m440, m1000, m700] = await tonePowers(channel.playUrls.flv, [440, 1000, 700]);
    expect(m440).toBeGreaterThan(20 * m700);
    expect(m1000).toBeGreaterThan(20 * m700);

    // Every SRT process ends with its caller.
    expect(srtProcesses(gw).length).toBeGreaterThanOrEqual(4);
    for (const p of pushes.splice(0)) await p.stop();
    await waitFor('no SRT process left', () => (srtProcesses(gw).length === 0 ? true : undefined), 15000);
  }, 150000);
});
