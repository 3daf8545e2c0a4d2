import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, Page } from 'playwright-core';
import type { Socket } from 'socket.io-client';
import { computeLayout } from '@gw/mixing';
import { ask, connectWithToken, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { PictureProbe } from '../bench/support/picture-probe';
import { waitFor } from '../bench/support/processes';
import { TestRedis } from '../bench/support/redis';
import { launchChromium, receivedFrom, writeFakeCamera } from './support/browser';
import { publishTestStream, Publisher } from './support/media';
import { BLUE, RED, tonePowers } from './support/mix-checks';

const W = 640;
const H = 360;
const GREEN: [number, number, number] = [0, 255, 0];

interface ParticipantView {
  userId: string;
  via: string;
  audio: boolean;
  video: boolean;
  node?: string;
}

/**
 * A conference across two gateway nodes (cluster mode), with real parts: one
 * Debian redis-server, two built gateways as separate processes, each on its
 * own address (127.0.0.2 and 127.0.0.3), and Chromium. An OBS-style host
 * pushes to the channel on node 1 (red, 440 Hz); the guest's browser is
 * connected to node 2 only (green camera, 1500 Hz), accepts there, and joins
 * the conference's media there: node 2 makes its copy of the conference and
 * bridges it to node 1 with PipeTransports (SRTP, RTX). Proven at the
 * channel's viewer (node 1's origin, where the mix runs): both pictures in
 * their cells and both tones; in the guest's browser: the host's picture and
 * sound decoded from node 2; through a Redis restart, the bridge and the
 * mix go on; the host on node 1 mutes the guest on node 2 (locked there,
 * gone from the mix) and unmutes it; and when the guest leaves, node 1 drops
 * them and node 2's copy ends by itself.
 */
describe('a conference spans two nodes', () => {
  let redis: TestRedis;
  let media: string;
  let browser: Browser;
  let probe: PictureProbe | undefined;
  const nodes: RunningGateway[] = [];
  const pushes: Publisher[] = [];
  const sockets: Socket[] = [];
  const pages: Page[] = [];

  beforeAll(async () => {
    media = mkdtempSync(join(tmpdir(), 'cluster-span-'));
    writeFakeCamera(join(media, 'green.y4m'), '0x00ff00');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=1500:sample_rate=48000', '-t', '4', join(media, 'tone.wav')]);
    browser = await launchChromium([`--use-file-for-fake-video-capture=${join(media, 'green.y4m')}`, `--use-file-for-fake-audio-capture=${join(media, 'tone.wav')}`]);
    redis = await TestRedis.start();
    const shared = {
      REDIS_URL: redis.url,
      JWT_SECRET: 'cluster-span-e2e-jwt-secret-0123456789abcdef',
      SFU_WORKERS: '1',
      EMBEDDED_ORIGIN_PROCESSES: '1',
      CONFERENCE_IDLE_SECONDS: '3',
      MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100),
      MIX_RTP_MAX_PORT: '59999',
    };
    nodes.push(await startGateway({ host: '127.0.0.2', env: { ...shared, NODE_ID: 'n1' } }));
    nodes.push(await startGateway({ host: '127.0.0.3', env: { ...shared, NODE_ID: 'n2' } }));
  }, 120000);

  afterAll(async () => {
    probe?.close();
    for (const s of sockets) s.disconnect();
    for (const p of pages) await p.close().catch(() => undefined);
    for (const p of pushes) await p.stop();
    await browser?.close();
    for (const gw of nodes) {
      await gw.stop().catch(() => undefined);
      removeDir(gw.dataDir);
    }
    await redis?.stop();
    if (redis) removeDir(redis.dir);
    rmSync(media, { recursive: true, force: true });
  });

  // A channel per attempt: a retry must not meet the first attempt's channel.
  let attempt = 0;
  let channelId = 'span';
  const token = async (gw: RunningGateway, userId: string, role: string) =>
    (await gw.admin('POST', '/api/v1/tokens', { userId, role, channelId })).body.token as string;
  const participantsOn = async (gw: RunningGateway, conferenceId: string) => {
    const res = await gw.admin('GET', `/api/v1/conferences/${conferenceId}`);
    return res.status === 200 ? (res.body.participants as ParticipantView[]) : undefined;
  };

  it("a guest on node 2 co-hosts with a host on node 1: the mix on node 1 shows and plays both, the guest's browser gets the host from node 2", async () => {
    const [n1, n2] = nodes;
    attempt += 1;
    channelId = `span-${attempt}`;
    const created = await n1.admin('POST', '/api/v1/channels', { id: channelId });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    const channel = created.body;
    pushes.push(publishTestStream(channel.publishUrl, { color: '0xff0000', toneHz: 440, fps: 25, seconds: 300, counter: true }));
    await waitFor('host on air', async () => ((await n1.admin('GET', `/api/v1/channels/${channelId}`)).body.source === 'host' ? true : undefined), 20000);

    const guestCell = computeLayout({ spec: { mode: 'float' }, canvas: { width: W, height: H }, userIds: ['anchor', 'wg'], hostUserId: 'anchor' })[1];
    probe?.close();
    probe = PictureProbe.flv(channel.playUrls.flv, {
      width: W,
      height: H,
      tiles: [
        { id: 'anchor', cell: { x: 0, y: 0, width: W, height: H }, color: RED },
        { id: 'wg', cell: guestCell, color: GREEN },
      ],
    });
    await probe.waitForShowing(['anchor'], { timeoutMs: 20000 });

    const host = await connectWithToken(n1, await token(n1, 'anchor', 'host'));
    sockets.push(host);
    // The guest's page talks to node 2 only.
    const page = await browser.newPage();
    pages.push(page);
    await page.goto(`${n2.baseUrl}/#/guest?channel=${channelId}&token=${await token(n2, 'wg', 'viewer')}`);
    await page.waitForFunction(() => window.guestPage?.connected === true, undefined, { timeout: 20000 });
    const invited = await ask(host, 'cohost:invite', { channelId, userId: 'wg' });
    expect(invited).toMatchObject({ ok: true });
    const acceptedAt = Date.now();
    await page.click('#invitations button.accept', { timeout: 20000 });
    await page.waitForFunction(() => window.guestPage?.joined === true, undefined, { timeout: 30000 });
    const conferenceId = (await n1.admin('GET', `/api/v1/channels/${channelId}`)).body.conferenceId as string;
    expect(conferenceId).toEqual(expect.any(String));

    // Node 1 (the conference's home, where the mix runs) shows the guest as connected to node 2 ...
    const atHome = await waitFor('the guest on node 1, from node 2', async () => {
      const ps = await participantsOn(n1, conferenceId);
      const wg = ps?.find((p) => p.userId === 'wg');
      return wg?.audio && wg.video ? ps : undefined;
    }, 20000);
    expect(atHome.find((p) => p.userId === 'wg')).toMatchObject({ via: 'webrtc', node: 'n2' });
    expect(atHome.find((p) => p.userId === 'anchor')).toMatchObject({ via: 'rtmp' });
    expect(atHome.find((p) => p.userId === 'anchor')?.node).toBeUndefined();
    // ... and node 2's copy shows the host as connected to node 1.
    const atCopy = await waitFor('the host on node 2, from node 1', async () => {
      const ps = await participantsOn(n2, conferenceId);
      return ps?.find((p) => p.userId === 'anchor')?.video ? ps : undefined;
    }, 20000);
    expect(atCopy.find((p) => p.userId === 'anchor')).toMatchObject({ via: 'rtmp', node: 'n1' });
    expect(atCopy.find((p) => p.userId === 'wg')?.node).toBeUndefined();

    // The channel's viewer: the guest's green picture in its cell over the host's red, and both tones.
    const both = await probe.waitForShowing(['anchor', 'wg'], { after: acceptedAt, timeoutMs: 20000 });
    expect(both.at).toBeGreaterThan(acceptedAt);
    const [p440, p1500, p700] = await tonePowers(channel.playUrls.flv, [440, 1500, 700]);
    expect(p440).toBeGreaterThan(20 * p700);
    expect(p1500).toBeGreaterThan(20 * p700);
    // The guest's picture is live at the viewer (its counter moves), not a still.
    await probe.waitUntilArrived(both.at + 3000);
    expect(probe.rate(both.at, both.at + 3000).maxDistinctGapMs).toBeLessThan(500);

    // Redis restarts mid-session (the nodes are not restarted): the bridge and the mix go on.
    const restartedAt = Date.now();
    await redis.restart();
    await probe.waitUntilArrived(restartedAt + 8000, 20000);
    const afterRestart = probe.rate(restartedAt, restartedAt + 8000);
    expect(afterRestart.maxDistinctGapMs).toBeLessThan(500);
    expect(probe.frames.filter((f) => f.at > restartedAt + 7000).every((f) => f.showing.includes('wg') && f.showing.includes('anchor'))).toBe(true);
    expect((await participantsOn(n1, conferenceId))?.find((p) => p.userId === 'wg')).toMatchObject({ node: 'n2', video: true });

    // The guest's browser decodes the host's picture and sound, carried node 1 → node 2.
    const before = await receivedFrom(page, 'anchor');
    await waitFor('the host decoded in the guest page', async () => {
      const now = await receivedFrom(page, 'anchor');
      return now.framesDecoded > before.framesDecoded + 20 && now.audioBytes > before.audioBytes ? true : undefined;
    }, 15000);

    // A second guest pushes RTMP to node 2 (its ingest URL asked of node 2): node 1's mix shows it too.
    const rgToken = await token(n2, 'rg', 'viewer');
    const rg = await connectWithToken(n2, rgToken);
    sockets.push(rg);
    const rgInvited = await ask(host, 'cohost:invite', { channelId, userId: 'rg' });
    expect(await ask(rg, 'cohost:accept', { invitationId: rgInvited.invitationId })).toMatchObject({ ok: true, conferenceId });
    const ingest = await n2.request('POST', `/api/v1/conferences/${conferenceId}/ingest`, { body: { userId: 'rg' }, headers: { authorization: `Bearer ${rgToken}` } });
    expect(ingest).toMatchObject({ status: 201, body: { url: expect.stringContaining(`:${n2.rtmpPort}/`) } });
    const rgAt = Date.now();
    pushes.push(publishTestStream(ingest.body.url, { color: '0x0000ff', toneHz: 1000, fps: 25, seconds: 300, counter: true }));
    const rgHome = await waitFor('the RTMP guest on node 1, from node 2', async () => {
      const p = (await participantsOn(n1, conferenceId))?.find((x) => x.userId === 'rg');
      return p?.video && p.audio ? p : undefined;
    }, 20000);
    expect(rgHome).toMatchObject({ via: 'rtmp', node: 'n2' });
    // Where the mix put the three (its own view), then all three at the viewer, and the new tone.
    const mixTaskId = (await n1.admin('GET', `/api/v1/channels/${channelId}`)).body.mixTaskId as string;
    const cells = await waitFor('the mix placing three', async () => {
      const c = (await n1.admin('GET', `/api/v1/mix-tasks/${mixTaskId}`)).body.layout?.cells as { userId: string; x: number; y: number; width: number; height: number }[] | undefined;
      return c?.length === 3 ? c : undefined;
    }, 20000);
    const colors: Record<string, [number, number, number]> = { anchor: RED, wg: GREEN, rg: BLUE };
    probe.retile(cells.filter((c) => c.userId !== 'anchor').map((c) => ({ id: c.userId, cell: { x: c.x, y: c.y, width: c.width, height: c.height }, color: colors[c.userId] })).concat([{ id: 'anchor', cell: { x: 0, y: 0, width: W, height: H }, color: RED }]));
    const three = await probe.waitForShowing(['anchor', 'wg', 'rg'], { after: rgAt, timeoutMs: 20000 });
    process.stdout.write(`cluster-span: the RTMP guest on node 2 in node 1's mix ${three.at - rgAt} ms after its push started\n`);
    const [q1000, q700] = await tonePowers(channel.playUrls.flv, [1000, 700]);
    expect(q1000).toBeGreaterThan(20 * q700);

    // Host controls across nodes: the host, connected to node 1, mutes the browser guest on node 2 (locked).
    // Node 2 pauses the guest's own producer and keeps the lock: the guest cannot unmute itself there.
    expect(await ask(host, 'media:mute', { conferenceId, userId: 'wg', kind: 'audio', locked: true })).toMatchObject({ ok: true, muted: true, locked: true });
    const wgSelf = await connectWithToken(n2, await token(n2, 'wg', 'viewer'));
    sockets.push(wgSelf);
    expect(await ask(wgSelf, 'media:unmute', { conferenceId, userId: 'wg', kind: 'audio' })).toMatchObject({ ok: false, error: { code: 'MUTE_LOCKED' } });
    await waitFor("the guest's tone gone from the mix", async () => {
      const [m440, m1500] = await tonePowers(channel.playUrls.flv, [440, 1500]);
      return m440 > 20 * m1500 ? true : undefined;
    }, 20000);
    expect(await ask(host, 'media:unmute', { conferenceId, userId: 'wg', kind: 'audio' })).toMatchObject({ ok: true, muted: false });
    await waitFor("the guest's tone back in the mix", async () => {
      const [m1500, m700] = await tonePowers(channel.playUrls.flv, [1500, 700]);
      return m1500 > 20 * m700 ? true : undefined;
    }, 20000);

    // The browser guest closes its page: node 1 drops them; the RTMP guest, whose push node 2 still carries, stays.
    await page.close();
    await waitFor('the guest gone from node 1', async () => ((await participantsOn(n1, conferenceId))?.some((p) => p.userId === 'wg') ? undefined : true), 20000);
    expect((await participantsOn(n1, conferenceId))?.map((p) => p.userId).sort()).toEqual(['anchor', 'rg']);
    // The RTMP guest stops pushing: node 1 drops them too, and node 2's copy, with nobody left on it, ends by itself.
    await pushes.pop()!.stop();
    await waitFor('the RTMP guest gone from node 1', async () => ((await participantsOn(n1, conferenceId))?.some((p) => p.userId === 'rg') ? undefined : true), 20000);
    await waitFor("node 2's copy ended", async () => ((await n2.admin('GET', `/api/v1/conferences/${conferenceId}`)).status === 404 ? true : undefined), 20000);
    // Node 1's conference goes on with the host.
    expect((await participantsOn(n1, conferenceId))?.map((p) => p.userId)).toEqual(['anchor']);
    expect(n1.output()).not.toMatch(/producer \S+ not bridged|did not take producer/);
    expect(n2.output()).not.toMatch(/producer \S+ not bridged|did not take producer/);
  }, 180000);
});
