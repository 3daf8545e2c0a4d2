import { Socket } from 'socket.io-client';
import { ask, connectAs, nextEvent as next, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { PictureProbe, ProbeFrame, ProbeTile } from '../bench/support/picture-probe';
import { waitFor } from '../bench/support/processes';
import { colorNear, meanColor, Rgb } from '../bench/support/media-analysis';
import { PK_OTHER_COLOR, PK_OWN_COLOR, scoreBarGeometry } from '../libs/cohost/src/pk/pk-pictures';
import { publishTestStream, Publisher } from './support/media';
import { BLUE, RED, tonePowers } from './support/mix-checks';

const W = 640;
const H = 360;
const hex = (c: string): Rgb => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as Rgb;

/**
 * PK with real processes: two channels whose "OBS" hosts (ffmpeg: red with a
 * 440 Hz tone, blue with 1000 Hz, each with a frame counter) push the whole
 * time, and host sockets that invite and accept. A viewer-side probe decodes
 * each channel frame by frame: each shows its own host on the left half and
 * the other on the right, with both tones, and every frame from before the
 * invitation until after the end shows that channel's own host. A battle's
 * scores, posted over REST, change the colour of part of the score bar in
 * both pictures; pk:battle-ended names the winner; pk:end hands each channel
 * back to its own host alone while the viewers stay connected. The error
 * cases run over sockets: own channel, ALREADY_IN_PK, accept by the wrong
 * host, cancel racing accept, expiry.
 */
describe('PK: two channels co-host', () => {
  let gw: RunningGateway;
  const pushes: Publisher[] = [];
  const sockets: Socket[] = [];
  const probes: PictureProbe[] = [];

  beforeAll(async () => {
    gw = await startGateway({
      env: {
        MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100),
        MIX_RTP_MAX_PORT: '59999',
        // Short, so that expiry and the hand-back of a channel without a push are quick to see.
        COHOST_INVITE_TTL_SECONDS: '4',
        COHOST_GRACE_SECONDS: '4',
      },
    });
  }, 60000);

  afterAll(async () => {
    for (const p of probes) p.close();
    for (const s of sockets) s.close();
    for (const p of pushes) await p.stop();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  const host = async (userId: string, channelId: string) => {
    const socket = await connectAs(gw, userId, 'host', channelId);
    sockets.push(socket);
    return socket;
  };
  const channel = async (id: string) => (await gw.admin('GET', `/api/v1/channels/${id}`)).body;

  it('mirrors both hosts into both channels, battles live, and hands each channel back', async () => {
    const a = (await gw.admin('POST', '/api/v1/channels', { id: 'pka' })).body;
    const b = (await gw.admin('POST', '/api/v1/channels', { id: 'pkb' })).body;
    for (const id of ['pkc', 'pkd']) await gw.admin('POST', '/api/v1/channels', { id });
    pushes.push(publishTestStream(a.publishUrl, { color: '0xff0000', toneHz: 440, fps: 25, seconds: 400, counter: true }));
    pushes.push(publishTestStream(b.publishUrl, { color: '0x0000ff', toneHz: 1000, fps: 25, seconds: 400, counter: true }));
    for (const id of ['pka', 'pkb']) await waitFor(`${id} on air`, async () => ((await channel(id)).source === 'host' ? true : undefined), 20000);

    // Each channel's own host: alone (full frame) or on the left half; the other host on the right half.
    const tiles = (own: Rgb, other: Rgb): ProbeTile[] => [
      { id: 'alone', cell: { x: 0, y: 0, width: W, height: H }, color: own },
      { id: 'left', cell: { x: 0, y: 0, width: W / 2, height: H }, color: own },
      { id: 'right', cell: { x: W / 2, y: 0, width: W / 2, height: H }, color: other },
    ];
    const probeA = PictureProbe.flv(a.playUrls.flv, { width: W, height: H, tiles: tiles(RED, BLUE) });
    const probeB = PictureProbe.flv(b.playUrls.flv, { width: W, height: H, tiles: tiles(BLUE, RED) });
    probes.push(probeA, probeB);
    await probeA.waitForShowing(['alone'], { timeoutMs: 20000 });
    await probeB.waitForShowing(['alone'], { timeoutMs: 20000 });
    const watchFrom = Date.now();

    const hostA = await host('hostA', 'pka');
    const hostB = await host('hostB', 'pkb');
    const hostC = await host('hostC', 'pkc');
    const hostD = await host('hostD', 'pkd');

    // Refusals that change nothing.
    expect(await ask(hostA, 'pk:invite', { channelId: 'pka', targetChannelId: 'pka' })).toMatchObject({ ok: false, error: { code: 'PK_OWN_CHANNEL' } });
    expect(await ask(hostA, 'pk:invite', { channelId: 'pkb', targetChannelId: 'pkc' })).toMatchObject({ ok: false, error: { code: 'NOT_CHANNEL_HOST' } });
    expect(await ask(hostA, 'pk:invite', { channelId: 'pka', targetChannelId: 'nobody-here' })).toMatchObject({ ok: false, error: { code: 'CHANNEL_NOT_HOSTED' } });

    // Expiry: both hosts are told, and a late accept gets its precise error.
    const expiredAtB = next(hostB, 'pk:expired', 10000);
    const expiredAtA = next(hostA, 'pk:expired', 10000);
    const invited = next(hostB, 'pk:invited');
    const stale = await ask(hostA, 'pk:invite', { channelId: 'pka', targetChannelId: 'pkb' });
    expect(stale).toMatchObject({ ok: true, pkId: expect.stringMatching(/^pk_/), expiresAt: expect.any(String) });
    expect(await invited).toMatchObject({ pkId: stale.pkId, fromChannelId: 'pka', fromUserId: 'hostA', expiresAt: stale.expiresAt });
    expect(await ask(hostA, 'pk:invite', { channelId: 'pka', targetChannelId: 'pkc' })).toMatchObject({ ok: false, error: { code: 'ALREADY_IN_PK' } });
    await Promise.all([expiredAtA, expiredAtB]);
    expect(await ask(hostB, 'pk:accept', { pkId: stale.pkId })).toMatchObject({ ok: false, error: { code: 'PK_EXPIRED' } });

    // Reject, with a reason the inviter hears.
    const rejectedAtA = next(hostA, 'pk:rejected');
    const declined = await ask(hostA, 'pk:invite', { channelId: 'pka', targetChannelId: 'pkb' });
    expect(await ask(hostB, 'pk:reject', { pkId: declined.pkId, reason: 'busy' })).toMatchObject({ ok: true });
    expect(await rejectedAtA).toMatchObject({ pkId: declined.pkId, state: 'rejected', reason: 'busy' });

    // Cancel racing accept (two channels without pushes): exactly one of them wins.
    const race = await ask(hostC, 'pk:invite', { channelId: 'pkc', targetChannelId: 'pkd' });
    const [cancelled, accepted] = await Promise.all([ask(hostC, 'pk:cancel', { pkId: race.pkId }), ask(hostD, 'pk:accept', { pkId: race.pkId })]);
    expect([cancelled.ok, accepted.ok].filter(Boolean)).toHaveLength(1);
    if (accepted.ok) {
      expect(cancelled.error.code).toBe('PK_ACTIVE');
      expect(await ask(hostD, 'pk:end', { pkId: race.pkId })).toMatchObject({ ok: true });
    } else {
      expect(accepted.error.code).toBe('PK_CANCELLED');
    }

    // The PK itself: the wrong hosts cannot accept it; its target does.
    const startedAtA = next(hostA, 'pk:started', 30000);
    const pk = await ask(hostA, 'pk:invite', { channelId: 'pka', targetChannelId: 'pkb' });
    expect(await ask(hostC, 'pk:accept', { pkId: pk.pkId })).toMatchObject({ ok: false, error: { code: 'NOT_YOUR_MOVE' } });
    expect(await ask(hostA, 'pk:accept', { pkId: pk.pkId })).toMatchObject({ ok: false, error: { code: 'NOT_YOUR_MOVE' } });
    const acceptedAt = Date.now();
    const accept = await ask(hostB, 'pk:accept', { pkId: pk.pkId });
    expect(accept).toMatchObject({ ok: true, conferenceId: expect.any(String) });
    expect(await startedAtA).toEqual({ pkId: pk.pkId, channelIds: ['pka', 'pkb'], conferenceId: accept.conferenceId });
    expect(await ask(hostC, 'pk:invite', { channelId: 'pkc', targetChannelId: 'pka' })).toMatchObject({ ok: false, error: { code: 'ALREADY_IN_PK' } });
    // A channel in a PK takes no guests on mic meanwhile.
    expect(await ask(hostA, 'cohost:invite', { channelId: 'pka', userId: 'someone' })).toMatchObject({ ok: false, error: { code: 'CHANNEL_IN_PK' } });

    // Each channel: its own host left, the other right; both voices.
    const mirroredA = await probeA.waitForShowing(['left', 'right'], { after: acceptedAt, timeoutMs: 20000 });
    const mirroredB = await probeB.waitForShowing(['left', 'right'], { after: acceptedAt, timeoutMs: 20000 });
    expect(Math.max(mirroredA.at, mirroredB.at) - acceptedAt).toBeLessThan(10000);
    expect(await channel('pka')).toMatchObject({ state: 'cohosting', source: 'mix', conferenceId: accept.conferenceId });
    for (const url of [a.playUrls.flv, b.playUrls.flv]) {
      const [p440, p1000, p700] = await tonePowers(url, [440, 1000, 700]);
      expect(p440).toBeGreaterThan(20 * p700);
      expect(p1000).toBeGreaterThan(20 * p700);
    }

    // A battle: the bar appears in both pictures, and a score moves its split.
    const bar = scoreBarGeometry({ width: W, height: H });
    const inBar = (fraction: number) => ({ x: Math.round(bar.x + bar.width * fraction) - 10, y: bar.y + 4, w: 20, h: bar.height - 8 });
    const colourAt = (probe: PictureProbe, region: { x: number; y: number; w: number; h: number }) => meanColor(probe.lastPicture!, W, region);
    const until = (what: string, probe: PictureProbe, region: { x: number; y: number; w: number; h: number }, want: Rgb, after = Date.now()) =>
      waitFor(what, () => (probe.frames.at(-1)!.at > after && colorNear(colourAt(probe, region), want, 45) ? true : undefined), 10000);
    expect(await ask(hostC, 'pk:battle', { pkId: pk.pkId, durationSeconds: 20 })).toMatchObject({ ok: false, error: { code: 'NOT_YOUR_MOVE' } });
    const battleEndedAtA = next(hostA, 'pk:battle-ended', 40000);
    const battleEndedAtB = next(hostB, 'pk:battle-ended', 40000);
    const battle = await ask(hostA, 'pk:battle', { pkId: pk.pkId, durationSeconds: 20 });
    expect(battle).toMatchObject({ ok: true, endsAt: expect.any(String) });
    // 0:0 splits the bar in half: own colour left, the other's right, in each channel.
    await until('bar at 0:0 in A', probeA, inBar(0.75), hex(PK_OTHER_COLOR));
    await until('bar at 0:0 in B', probeB, inBar(0.25), hex(PK_OWN_COLOR));
    const scored = await gw.admin('POST', `/api/v1/pk/${pk.pkId}/score`, { channelId: 'pka', delta: 30 });
    expect(scored).toMatchObject({ status: 200, body: { pkId: pk.pkId, scores: { pka: 30, pkb: 0 } } });
    // A leads 30:0: A's colour fills A's bar; in B's picture B's own part is gone.
    await until('A leads in A', probeA, inBar(0.75), hex(PK_OWN_COLOR));
    await until('A leads in B', probeB, inBar(0.25), hex(PK_OTHER_COLOR));
    expect((await gw.admin('POST', `/api/v1/pk/${pk.pkId}/score`, { channelId: 'pkb', delta: 10 })).body.scores).toEqual({ pka: 30, pkb: 10 });
    expect((await gw.request('POST', `/api/v1/pk/${pk.pkId}/score`, { body: { channelId: 'pka', delta: 1 } })).status).toBe(401);
    expect((await gw.admin('POST', `/api/v1/pk/${pk.pkId}/score`, { channelId: 'pkc', delta: 1 })).body.error.code).toBe('NOT_IN_PK');
    const ended = await battleEndedAtA;
    expect(ended).toEqual({ pkId: pk.pkId, scores: { pka: 30, pkb: 10 }, winnerChannelId: 'pka' });
    expect(await battleEndedAtB).toEqual(ended);
    expect((await gw.admin('POST', `/api/v1/pk/${pk.pkId}/score`, { channelId: 'pka', delta: 1 })).body.error.code).toBe('NO_BATTLE');
    // The bar goes away: the hosts' own colours are back where it was.
    await until('bar gone in A', probeA, inBar(0.25), RED);
    await until('bar gone in B', probeB, inBar(0.75), RED);

    // The end: each channel back to its own host alone, with the viewers still connected.
    const endedAtA = next(hostA, 'pk:ended');
    const endedAt = Date.now();
    expect(await ask(hostB, 'pk:end', { pkId: pk.pkId })).toMatchObject({ ok: true });
    expect(await endedAtA).toMatchObject({ pkId: pk.pkId, reason: 'ended by host' });
    const aloneA = await probeA.waitForShowing(['alone'], { after: endedAt, timeoutMs: 20000 });
    const aloneB = await probeB.waitForShowing(['alone'], { after: endedAt, timeoutMs: 20000 });
    const watchTo = Math.max(aloneA.at, aloneB.at) + 2000;
    await probeA.waitUntilArrived(watchTo);
    await probeB.waitUntilArrived(watchTo);
    for (const id of ['pka', 'pkb']) await waitFor(`${id} host alone`, async () => ((await channel(id)).source === 'host' ? true : undefined), 20000);
    expect(await ask(hostA, 'pk:end', { pkId: pk.pkId })).toMatchObject({ ok: false, error: { code: 'PK_ENDED' } });
    await waitFor('conference gone', async () => ((await gw.admin('GET', `/api/v1/conferences/${accept.conferenceId}`)).status === 404 ? true : undefined), 20000);

    // Frame by frame: every picture each channel's viewers got shows that channel's own host.
    for (const [name, probe] of [['pka', probeA], ['pkb', probeB]] as const) {
      const watched = probe.frames.filter((f) => f.at >= watchFrom && f.at <= watchTo);
      const withoutHost = watched.filter((f) => !f.showing.includes('alone') && !f.showing.includes('left'));
      expect({ name, frames: watched.length, withoutHost: withoutHost.length, first: withoutHost.slice(0, 3).map(describeFrame) }).toMatchObject({ withoutHost: 0 });
      expect(watched.length).toBeGreaterThan(300);
      expect(probe.endedAt).toBeUndefined();
    }
  }, 240000);
});

function describeFrame(f: ProbeFrame): string {
  return `${new Date(f.at).toISOString()} showing [${f.showing.join(',')}] colours ${JSON.stringify(Object.fromEntries(Object.entries(f.colors).map(([k, v]) => [k, v.map(Math.round)])))} counters ${JSON.stringify(f.counters)}`;
}
