import { Socket } from 'socket.io-client';
import { connectWithToken, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { waitFor } from '../bench/support/processes';
import { publishTestStream, Publisher } from './support/media';

/**
 * `POST /conferences/:id/ingest {userId}` is "admin or that member" (the
 * contract), tried as an integrator following it would: an admin (or the
 * conference's host) asking for a user who was not admitted first gets the URL
 * and admits them; an accepted co-host holding a viewer token ingests as
 * themself, and their push makes them a participant `via: "rtmp"`.
 */
describe('RTMP ingest URLs: who may ask', () => {
  let gw: RunningGateway;
  const sockets: Socket[] = [];
  const pushes: Publisher[] = [];
  beforeAll(async () => {
    gw = await startGateway({ env: { MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' } });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const p of pushes) await p.stop();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  const token = async (userId: string, role: 'host' | 'guest' | 'viewer', channelId?: string) =>
    (await gw.admin('POST', '/api/v1/tokens', { userId, role, ...(channelId ? { channelId } : {}) })).body.token as string;
  const as = (bearer: string) => ({ authorization: `Bearer ${bearer}` });
  const ingest = (conferenceId: string, userId: string, headers: Record<string, string>) =>
    gw.request('POST', `/api/v1/conferences/${conferenceId}/ingest`, { body: { userId }, headers });
  const push = (url: string) => {
    const p = publishTestStream(url, { color: '0x00ff00', toneHz: 660, seconds: 120 });
    pushes.push(p);
    return p;
  };
  const participant = (conferenceId: string, userId: string) =>
    waitFor(`${userId} in ${conferenceId} via rtmp`, async () => {
      const { body } = await gw.admin('GET', `/api/v1/conferences/${conferenceId}`);
      return (body.participants as { userId: string; video: boolean; audio: boolean; via: string }[]).find((p) => p.userId === userId && p.video && p.audio);
    }, 30000);

  it('an admin or the conference host asking for a user not admitted yet admits them; others are refused', async () => {
    // An admin's conference: the admin asks for a user nobody admitted.
    const adminConf = (await gw.admin('POST', '/api/v1/conferences', { title: 'admin-made' })).body.id as string;
    const byAdmin = await gw.admin('POST', `/api/v1/conferences/${adminConf}/ingest`, { userId: 'obs' });
    expect(byAdmin).toMatchObject({ status: 201, body: { url: expect.stringMatching(/^rtmp:\/\/.+\?key=/) } });
    expect((await gw.admin('GET', `/api/v1/conferences/${adminConf}`)).body.members).toContain('obs');
    // Asking again gives the same push point.
    expect((await gw.admin('POST', `/api/v1/conferences/${adminConf}/ingest`, { userId: 'obs' })).body.url).toBe(byAdmin.body.url);
    const obs = push(byAdmin.body.url);
    expect(await participant(adminConf, 'obs')).toEqual({ userId: 'obs', audio: true, video: true, via: 'rtmp' });
    await obs.stop();

    // A host's conference: its host asks for a user; another host, or a member asking for someone else, is refused.
    const hostToken = await token('presenter', 'host');
    const hostConf = (await gw.request('POST', '/api/v1/conferences', { body: { title: 'host-made' }, headers: as(hostToken) })).body.id as string;
    expect(await ingest(hostConf, 'camera2', as(hostToken))).toMatchObject({ status: 201, body: { url: expect.stringMatching(/^rtmp:\/\//) } });
    const members = () => gw.admin('GET', `/api/v1/conferences/${hostConf}`).then((r) => r.body.members as string[]);
    expect(await members()).toContain('camera2');
    expect(await ingest(hostConf, 'camera3', as(await token('someone-else', 'host')))).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect(await ingest(hostConf, 'camera3', as(await token('camera2', 'guest')))).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect(await members()).not.toContain('camera3');
    // Typed errors for a conference that does not exist and a malformed body.
    expect(await gw.admin('POST', '/api/v1/conferences/conf_missing/ingest', { userId: 'obs' })).toMatchObject({ status: 404, body: { error: { code: 'CONFERENCE_NOT_FOUND' } } });
    expect(await gw.admin('POST', `/api/v1/conferences/${hostConf}/ingest`, { userId: 'not ok!' })).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    expect(await members()).toEqual(['presenter', 'camera2']);
  }, 60000);

  it('an accepted co-host with a viewer token ingests as themself and appears via rtmp; a non-member viewer is refused', async () => {
    await gw.admin('POST', '/api/v1/channels', { id: 'stage' });
    const host = await connectWithToken(gw, await token('anchor', 'host', 'stage'));
    sockets.push(host);
    const fanToken = await token('fan', 'viewer', 'stage');
    const fan = await connectWithToken(gw, fanToken);
    sockets.push(fan);

    // Before being accepted, the viewer is not a member.
    expect(await gw.request('GET', '/api/v1/conferences', { headers: as(fanToken) })).toMatchObject({ status: 200, body: [] });

    const applied = await fan.emitWithAck('cohost:apply', { channelId: 'stage' });
    expect(applied).toMatchObject({ ok: true, invitationId: expect.stringMatching(/^inv_/) });
    const accepted = await host.emitWithAck('cohost:accept', { invitationId: applied.invitationId });
    expect(accepted).toMatchObject({ ok: true, conferenceId: expect.any(String) });
    const conferenceId = accepted.conferenceId as string;

    // The co-host, with the same viewer token, gets their own ingest URL and pushes there.
    const mine = await ingest(conferenceId, 'fan', as(fanToken));
    expect(mine).toMatchObject({ status: 201, body: { url: expect.stringMatching(/^rtmp:\/\/.+\?key=/) } });
    push(mine.body.url);
    await participant(conferenceId, 'fan');
    // Seen as the contract shows it, by the co-host themself (a member may read the conference).
    const view = await gw.request('GET', `/api/v1/conferences/${conferenceId}`, { headers: as(fanToken) });
    expect(view.status).toBe(200);
    expect(view.body.participants).toContainEqual({ userId: 'fan', audio: true, video: true, via: 'rtmp' });

    // Not as someone else, and a viewer who is not a member is refused.
    expect(await ingest(conferenceId, 'anchor', as(fanToken))).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    const lurker = await token('lurker', 'viewer', 'stage');
    expect(await ingest(conferenceId, 'lurker', as(lurker))).toMatchObject({ status: 403, body: { error: { code: 'NOT_A_MEMBER' } } });
    expect(await ingest(conferenceId, 'fan', as(lurker))).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect((await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body.members).not.toContain('lurker');
  }, 90000);
});
