import { Socket } from 'socket.io-client';
import { ask, connectAs, nextEvent as next, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { PictureProbe, ProbeFrame, ProbeTile } from '../bench/support/picture-probe';
import { waitFor } from '../bench/support/processes';
import { Rgb } from '../bench/support/media-analysis';
import { pkCells } from '../libs/cohost/src/pk/pk-pictures';
import { computeLayout } from '../libs/mixing/src/layout';
import { publishTestStream, Publisher } from './support/media';
import { BLUE, RED, tonePowers } from './support/mix-checks';

const W = 640;
const H = 360;
const GREEN: Rgb = [0, 255, 0];
const YELLOW: Rgb = [255, 255, 0];
const rect = (c: { x: number; y: number; width: number; height: number }) => ({ x: c.x, y: c.y, width: c.width, height: c.height });

/**
 * A PK between a channel that co-hosts with guests and one that does not,
 * with real processes: "OBS" hosts (ffmpeg, red 440 Hz and blue 1000 Hz,
 * with frame counters) push the whole time; channel A's guests push by RTMP
 * ingest (green 660 Hz, then yellow 1500 Hz). Viewer-side probes decode
 * both channels frame by frame. During the PK, A's picture shows its host
 * left, B's host right and A's guests in windows in A's half, and a guest
 * seated during the PK appears there too; B's picture and sound have no
 * trace of A's guests. At the end A goes back to its co-hosting mix (host
 * and guests), B to its host alone. A second PK outlives A's co-hosting
 * (its guests leave during it) and then hands A back to its host's push.
 * Every frame at both viewers shows that channel's own host.
 */
describe('PK with a channel that co-hosts with guests', () => {
  let gw: RunningGateway;
  const pushes: Publisher[] = [];
  const sockets: Socket[] = [];
  const probes: PictureProbe[] = [];

  beforeAll(async () => {
    gw = await startGateway({ env: { MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999', COHOST_GRACE_SECONDS: '4' } });
  }, 60000);

  afterAll(async () => {
    for (const p of probes) p.close();
    for (const s of sockets) s.close();
    for (const p of pushes) await p.stop();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  const connect = async (userId: string, role: string, channelId?: string) => {
    const socket = await connectAs(gw, userId, role, channelId);
    sockets.push(socket);
    return socket;
  };
  const channel = async (id: string) => (await gw.admin('GET', `/api/v1/channels/${id}`)).body;
  /** The guest is invited, accepts, and pushes its colour and tone to its ingest URL. */
  const seat = async (host: Socket, guest: Socket, userId: string, color: string, toneHz: number) => {
    const { invitationId } = await ask(host, 'cohost:invite', { channelId: 'ga', userId });
    const accepted = await ask(guest, 'cohost:accept', { invitationId });
    expect(accepted).toMatchObject({ ok: true, conferenceId: expect.any(String) });
    const url = (await gw.admin('POST', `/api/v1/conferences/${accepted.conferenceId}/ingest`, { userId })).body.url as string;
    pushes.push(publishTestStream(url, { color, toneHz, fps: 25, seconds: 400, counter: true }));
    return accepted.conferenceId as string;
  };

  it("keeps A's guests in A's picture only, and hands A back to its co-hosting mix", async () => {
    const a = (await gw.admin('POST', '/api/v1/channels', { id: 'ga' })).body;
    const b = (await gw.admin('POST', '/api/v1/channels', { id: 'gb' })).body;
    pushes.push(publishTestStream(a.publishUrl, { color: '0xff0000', toneHz: 440, fps: 25, seconds: 400, counter: true }));
    pushes.push(publishTestStream(b.publishUrl, { color: '0x0000ff', toneHz: 1000, fps: 25, seconds: 400, counter: true }));
    for (const id of ['ga', 'gb']) await waitFor(`${id} on air`, async () => ((await channel(id)).source === 'host' ? true : undefined), 20000);

    // Where each picture shows whom: A's co-hosting mix (float), the PK's halves, A's guests' PK windows.
    const float = computeLayout({ spec: { mode: 'float' }, canvas: { width: W, height: H }, userIds: ['hostA', 'g1'], hostUserId: 'hostA' });
    const pk = pkCells({ width: W, height: H }, 'hostA', 'hostB', ['g1', 'g2']);
    const halves = (own: Rgb, other: Rgb): ProbeTile[] => [
      { id: 'alone', cell: { x: 0, y: 0, width: W, height: H }, color: own },
      { id: 'left', cell: { x: 0, y: 0, width: W / 2, height: H }, color: own },
      { id: 'right', cell: { x: W / 2, y: 0, width: W / 2, height: H }, color: other },
    ];
    const probeA = PictureProbe.flv(a.playUrls.flv, {
      width: W,
      height: H,
      tiles: [
        ...halves(RED, BLUE),
        { id: 'g1-float', cell: rect(float.find((c) => c.userId === 'g1')!), color: GREEN },
        { id: 'g1-pk', cell: rect(pk[2]), color: GREEN },
        { id: 'g2-pk', cell: rect(pk[3]), color: YELLOW },
      ],
    });
    const probeB = PictureProbe.flv(b.playUrls.flv, { width: W, height: H, tiles: halves(BLUE, RED) });
    probes.push(probeA, probeB);
    await probeA.waitForShowing(['alone'], { timeoutMs: 20000 });
    await probeB.waitForShowing(['alone'], { timeoutMs: 20000 });
    const watchFrom = Date.now();

    const hostA = await connect('hostA', 'host', 'ga');
    const hostB = await connect('hostB', 'host', 'gb');
    const g1 = await connect('g1', 'viewer');
    const g2 = await connect('g2', 'viewer');

    // A co-hosts with g1: its viewers see the float mix.
    const session = await seat(hostA, g1, 'g1', '0x00ff00', 660);
    await probeA.waitForShowing(['alone', 'g1-float'], { timeoutMs: 20000 });

    // The PK: A's picture has its guest in A's half; B's has no guest.
    const startedAtA = next(hostA, 'pk:started', 30000);
    const invite = await ask(hostA, 'pk:invite', { channelId: 'ga', targetChannelId: 'gb' });
    expect(invite).toMatchObject({ ok: true });
    const acceptedAt = Date.now();
    const accept = await ask(hostB, 'pk:accept', { pkId: invite.pkId });
    expect(accept).toMatchObject({ ok: true, conferenceId: expect.any(String) });
    await startedAtA;
    await probeA.waitForShowing(['left', 'right', 'g1-pk'], { after: acceptedAt, timeoutMs: 20000 });
    await probeB.waitForShowing(['left', 'right'], { after: acceptedAt, timeoutMs: 20000 });
    const view = (await gw.admin('GET', `/api/v1/pk/${invite.pkId}`)).body;
    expect(view).toMatchObject({ state: 'active', conferenceId: accept.conferenceId, guests: { ga: ['g1'], gb: [] } });
    const mixOfB = (await gw.admin('GET', `/api/v1/mix-tasks/${view.mixTaskIds.gb}`)).body;
    expect([...mixOfB.participants].sort()).toEqual(['hostA', 'hostB']);
    expect(await channel('ga')).toMatchObject({ state: 'cohosting', source: 'mix', conferenceId: accept.conferenceId });
    // Sound: A hears both hosts and its guest; B hears both hosts and not A's guest.
    const [a440, a1000, a660, a700] = await tonePowers(a.playUrls.flv, [440, 1000, 660, 700]);
    expect(a440).toBeGreaterThan(20 * a700);
    expect(a1000).toBeGreaterThan(20 * a700);
    expect(a660).toBeGreaterThan(20 * a700);
    const [b440, b1000, b660] = await tonePowers(b.playUrls.flv, [440, 1000, 660]);
    expect(b1000).toBeGreaterThan(20 * b660);
    expect(b440).toBeGreaterThan(20 * b660);

    // A guest seated during the PK joins A's picture there.
    expect(await seat(hostA, g2, 'g2', '0xffff00', 1500)).toBe(session);
    const seatedAt = Date.now();
    await probeA.waitForShowing(['left', 'right', 'g1-pk', 'g2-pk'], { after: seatedAt, timeoutMs: 20000 });
    expect((await gw.admin('GET', `/api/v1/pk/${invite.pkId}`)).body.guests).toEqual({ ga: ['g1', 'g2'], gb: [] });

    // The end: A goes back to its co-hosting mix (host and guests), B to its host alone.
    const endedAt = Date.now();
    expect(await ask(hostB, 'pk:end', { pkId: invite.pkId })).toMatchObject({ ok: true });
    await probeA.waitForShowing(['alone', 'g1-float'], { after: endedAt, timeoutMs: 20000 });
    await probeB.waitForShowing(['alone'], { after: endedAt, timeoutMs: 20000 });
    await waitFor('A back on its session', async () => ((await channel('ga')).conferenceId === session && (await channel('ga')).source === 'mix' ? true : undefined), 20000);
    await waitFor('B back on its host', async () => ((await channel('gb')).source === 'host' ? true : undefined), 20000);
    await waitFor('PK conference gone', async () => ((await gw.admin('GET', `/api/v1/conferences/${accept.conferenceId}`)).status === 404 ? true : undefined), 20000);
    expect((await gw.admin('GET', `/api/v1/conferences/${session}`)).body.participants.map((p: { userId: string }) => p.userId).sort()).toEqual(['g1', 'g2', 'hostA']);

    // A second PK outlives A's co-hosting: both guests leave during it, the PK goes on, and its end hands A to its host.
    const again = await ask(hostA, 'pk:invite', { channelId: 'ga', targetChannelId: 'gb' });
    const secondAt = Date.now();
    const second = await ask(hostB, 'pk:accept', { pkId: again.pkId });
    expect(second).toMatchObject({ ok: true });
    await probeA.waitForShowing(['left', 'right', 'g1-pk', 'g2-pk'], { after: secondAt, timeoutMs: 20000 });
    const cohostEnded = next(hostA, 'cohost:ended', 20000);
    expect(await ask(g1, 'cohost:leave', { channelId: 'ga' })).toMatchObject({ ok: true });
    expect(await ask(g2, 'cohost:leave', { channelId: 'ga' })).toMatchObject({ ok: true });
    await cohostEnded;
    const leftAt = Date.now();
    await waitFor('A in the PK without guests', () =>
      probeA.frames.find((f) => f.at >= leftAt && f.showing.includes('left') && f.showing.includes('right') && !f.showing.includes('g1-pk') && !f.showing.includes('g2-pk')), 20000);
    await waitFor('session conference gone', async () => ((await gw.admin('GET', `/api/v1/conferences/${session}`)).status === 404 ? true : undefined), 20000);
    expect(await channel('ga')).toMatchObject({ state: 'cohosting', source: 'mix', conferenceId: second.conferenceId });
    expect((await gw.admin('GET', `/api/v1/pk/${again.pkId}`)).body).toMatchObject({ state: 'active', guests: { ga: [], gb: [] } });
    // Still the PK two seconds on (the session's end did not take the program back).
    await probeA.waitUntilArrived(Date.now() + 2000);
    expect(probeA.frames.at(-1)!.showing).toEqual(expect.arrayContaining(['left', 'right']));
    const secondEndAt = Date.now();
    expect(await ask(hostA, 'pk:end', { pkId: again.pkId })).toMatchObject({ ok: true });
    const aloneA = await probeA.waitForShowing(['alone'], { after: secondEndAt, timeoutMs: 20000 });
    const aloneB = await probeB.waitForShowing(['alone'], { after: secondEndAt, timeoutMs: 20000 });
    const watchTo = Math.max(aloneA.at, aloneB.at) + 2000;
    await probeA.waitUntilArrived(watchTo);
    await probeB.waitUntilArrived(watchTo);
    await waitFor('A on its host', async () => ((await channel('ga')).source === 'host' ? true : undefined), 20000);

    // Frame by frame, from before the co-hosting to after the second PK: each channel's own host in every picture.
    for (const [name, probe] of [['ga', probeA], ['gb', probeB]] as const) {
      const watched = probe.frames.filter((f) => f.at >= watchFrom && f.at <= watchTo);
      const withoutHost = watched.filter((f) => !f.showing.includes('alone') && !f.showing.includes('left'));
      expect({ name, frames: watched.length, withoutHost: withoutHost.slice(0, 5).map(describeFrame) }).toMatchObject({ withoutHost: [] });
      expect(watched.length).toBeGreaterThan(300);
      expect(probe.endedAt).toBeUndefined();
    }
  }, 240000);
});

function describeFrame(f: ProbeFrame): string {
  return `${new Date(f.at).toISOString()} showing [${f.showing.join(',')}] colours ${JSON.stringify(Object.fromEntries(Object.entries(f.colors).map(([k, v]) => [k, v.map(Math.round)])))} counters ${JSON.stringify(f.counters)}`;
}
