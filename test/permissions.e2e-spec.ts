import { io } from 'socket.io-client';
import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';

type Role = 'admin' | 'ownHost' | 'otherHost' | 'guest' | 'viewer' | 'expired' | 'none';
const ROLES: Role[] = ['admin', 'ownHost', 'otherHost', 'guest', 'viewer', 'expired', 'none'];
const REFUSED = new Set([401, 403]);
const REFUSAL_CODES = new Set(['NOT_CHANNEL_HOST', 'NOT_A_MEMBER', 'NOT_CONFERENCE_HOST', 'FORBIDDEN', 'UNAUTHENTICATED', 'TOKEN_EXPIRED', 'INVALID_TOKEN', 'INVALID_API_KEY', 'NOT_YOUR_MOVE']);

/**
 * The permission matrix: every REST route and co-host/media socket event
 * against every role and ownership case, on the real server. "own" is the
 * channel and conference of `ownHost`; `guest` was admitted to that
 * conference; `otherHost` hosts another channel. An allowed call may still fail
 * for another reason (404, 409…), but never with 401/403 or a refusal code; a
 * refused one always does.
 */
describe('permission matrix', () => {
  let gw: RunningGateway;
  const tokens: Partial<Record<Role, string>> = {};
  let conferenceId = '';
  let mixTaskId = '';

  beforeAll(async () => {
    gw = await startGateway();
    const token = async (body: object) => (await gw.admin('POST', '/api/v1/tokens', body)).body.token as string;
    tokens.expired = await token({ userId: 'late', role: 'host', channelId: 'own', ttlSeconds: 10 });
    const expiresAt = Date.now() + 10000;
    const own = (await gw.admin('POST', '/api/v1/channels', { id: 'own' })).body;
    await gw.admin('POST', '/api/v1/channels', { id: 'other' });
    await gw.admin('POST', '/api/v1/channels', { id: 'sink' });
    tokens.ownHost = await token({ userId: 'owner', role: 'host', channelId: 'own' });
    tokens.otherHost = await token({ userId: 'stranger', role: 'host', channelId: 'other' });
    tokens.viewer = await token({ userId: 'watcher', role: 'viewer', channelId: 'own' });
    conferenceId = (await gw.request('POST', '/api/v1/conferences', { body: { title: 'own' }, headers: { authorization: `Bearer ${tokens.ownHost}` } })).body.id;
    await gw.request('POST', `/api/v1/conferences/${conferenceId}/members`, { body: { userId: 'guesty' }, headers: { authorization: `Bearer ${tokens.ownHost}` } });
    tokens.guest = await token({ userId: 'guesty', role: 'guest', channelId: 'own', conferenceId });
    const sinkUrl = (await gw.admin('POST', '/api/v1/channels', { id: 'sink2' })).body.publishUrl;
    mixTaskId = (await gw.request('POST', '/api/v1/mix-tasks', { body: { conferenceId, outputs: [{ url: sinkUrl }] }, headers: { authorization: `Bearer ${tokens.ownHost}` } })).body.id;
    expect(own.id).toBe('own');
    expect(mixTaskId).toMatch(/^mix_/);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() + 500)));
  }, 60000);
  afterAll(async () => {
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  const call = (role: Role, method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = role === 'admin' ? { 'x-api-key': gw.adminKey } : role === 'none' ? {} : { authorization: `Bearer ${tokens[role]}` };
    return gw.request(method, path, { body, headers });
  };

  const conf = () => conferenceId;
  // [method, path, body, roles allowed]
  const routes: [string, () => string, () => unknown, Role[]][] = [
    ['POST', () => '/api/v1/tokens', () => ({ userId: 'u', role: 'viewer' }), ['admin']],
    ['POST', () => '/api/v1/channels', () => ({ title: 'x' }), ['admin']],
    ['GET', () => '/api/v1/channels', () => (undefined), ['admin']],
    ['GET', () => '/api/v1/channels/own', () => (undefined), ['admin', 'ownHost', 'otherHost', 'guest', 'viewer']],
    ['POST', () => '/api/v1/channels/own/rotate-key', () => (undefined), ['admin', 'ownHost']],
    ['POST', () => '/api/v1/conferences', () => ({ title: 't' }), ['admin', 'ownHost', 'otherHost']],
    ['GET', () => '/api/v1/conferences', () => (undefined), ['admin', 'ownHost', 'otherHost', 'guest', 'viewer']],
    ['GET', () => `/api/v1/conferences/${conf()}`, () => (undefined), ['admin', 'ownHost', 'guest']],
    ['POST', () => `/api/v1/conferences/${conf()}/members`, () => ({ userId: 'm1' }), ['admin', 'ownHost']],
    ['POST', () => `/api/v1/conferences/${conf()}/ingest`, () => ({ userId: 'guesty' }), ['admin', 'guest']],
    ['GET', () => '/api/v1/mix-tasks', () => (undefined), ['admin', 'ownHost', 'otherHost']],
    ['GET', () => `/api/v1/mix-tasks/${mixTaskId}`, () => (undefined), ['admin', 'ownHost']],
    ['PATCH', () => `/api/v1/mix-tasks/${mixTaskId}`, () => ({ sequence: Date.now(), layout: { mode: 'grid' } }), ['admin', 'ownHost']],
    ['POST', () => '/api/v1/mix-tasks', () => ({ conferenceId: conf(), outputs: [{ url: 'rtmp://127.0.0.1:1/live/x' }] }), ['admin', 'ownHost']],
    ['PUT', () => `/api/v1/conferences/${conf()}/live`, () => ({ channelId: 'other', onDemand: true }), ['admin']],
    ['GET', () => '/api/v1/live-map', () => (undefined), ['admin']],
    ['GET', () => '/api/v1/directory', () => (undefined), ['admin', 'ownHost', 'otherHost', 'guest', 'viewer']],
    ['DELETE', () => `/api/v1/conferences/${conf()}/live`, () => (undefined), ['admin']],
    ['GET', () => '/api/v1/admin/sfu', () => (undefined), ['admin']],
    // Destructive ones last, refused roles first; the allowed call ends the resource.
    ['DELETE', () => `/api/v1/mix-tasks/${mixTaskId}`, () => (undefined), ['admin', 'ownHost']],
  ];

  const label = (path: string) => path.replace('${conf()}', ':conference').replace('${mixTaskId}', ':mixTask');
  it.each(routes.map((r) => [`${r[0]} ${label(r[1].toString().replace(/^\(\) => [`']|[`']$/g, ''))}`, ...r] as const))('%s', async (_label, method, path, body, allowed) => {
    const ordered = [...ROLES.filter((r) => !allowed.includes(r)), ...ROLES.filter((r) => allowed.includes(r))];
    for (const role of ordered) {
      const res = await call(role, method, path(), body());
      const refused = REFUSED.has(res.status);
      if (allowed.includes(role)) expect({ role, status: res.status, code: res.body?.error?.code, refused }).toMatchObject({ refused: false });
      else {
        expect({ role, refused, code: res.body?.error?.code }).toMatchObject({ role, refused: true });
        if (role === 'expired') expect(res.body.error.code).toBe('TOKEN_EXPIRED');
      }
    }
  });

  it('DELETE /conferences/:id: only the admin or its host', async () => {
    for (const role of ['otherHost', 'guest', 'viewer', 'expired', 'none'] as Role[]) expect(REFUSED.has((await call(role, 'DELETE', `/api/v1/conferences/${conferenceId}`)).status)).toBe(true);
    expect((await call('ownHost', 'DELETE', `/api/v1/conferences/${conferenceId}`)).status).toBe(200);
  });

  it('socket events: hosts act on their own channel only, members only join their conference', async () => {
    const expiredSocket = io(gw.baseUrl, { auth: { token: tokens.expired }, transports: ['websocket'], reconnection: false });
    const refusal = await new Promise<{ data?: { code: string } }>((resolve) => expiredSocket.once('connect_error', resolve));
    expect(refusal.data?.code).toBe('TOKEN_EXPIRED');
    expiredSocket.close();
    const anonymous = io(gw.baseUrl, { transports: ['websocket'], reconnection: false });
    expect((await new Promise<{ data?: { code: string } }>((resolve) => anonymous.once('connect_error', resolve))).data?.code).toBe('UNAUTHENTICATED');
    anonymous.close();

    const conferenceForMedia = (await gw.request('POST', '/api/v1/conferences', { body: { title: 'media' }, headers: { authorization: `Bearer ${tokens.ownHost}` } })).body.id;
    await gw.request('POST', `/api/v1/conferences/${conferenceForMedia}/members`, { body: { userId: 'guesty' }, headers: { authorization: `Bearer ${tokens.ownHost}` } });
    const sockets = Object.fromEntries(
      await Promise.all(
        (['ownHost', 'otherHost', 'guest', 'viewer'] as const).map(async (role) => {
          const s = io(gw.baseUrl, { auth: { token: tokens[role] }, transports: ['websocket'], reconnection: false });
          await new Promise<void>((resolve) => s.once('connect', () => resolve()));
          return [role, s] as const;
        }),
      ),
    );
    try {
      const events: [string, object, Role[]][] = [
        ['cohost:invite', { channelId: 'own', userId: 'z1' }, ['ownHost']],
        ['cohost:kick', { channelId: 'own', userId: 'z1' }, ['ownHost']],
        ['cohost:mode', { channelId: 'own', mixMode: 'server' }, ['ownHost']],
        ['cohost:end', { channelId: 'own' }, ['ownHost']],
        ['media:join', { conferenceId: conferenceForMedia }, ['ownHost', 'guest']],
      ];
      for (const [event, payload, allowed] of events) {
        for (const role of ['otherHost', 'guest', 'viewer', 'ownHost'] as const) {
          const answer = await sockets[role].emitWithAck(event, payload);
          const refused = !answer.ok && REFUSAL_CODES.has(answer.error.code);
          expect({ event, role, refused, code: answer.error?.code }).toMatchObject({ refused: !allowed.includes(role) });
        }
      }
      // A viewer applies; a host cannot accept someone else's application on another channel.
      const applied = await sockets.viewer.emitWithAck('cohost:apply', { channelId: 'own' });
      expect(applied).toMatchObject({ ok: true });
      expect(await sockets.otherHost.emitWithAck('cohost:accept', { invitationId: applied.invitationId })).toMatchObject({ ok: false });
      expect(await sockets.viewer.emitWithAck('cohost:accept', { invitationId: applied.invitationId })).toMatchObject({ ok: false, error: { code: 'NOT_YOUR_MOVE' } });
    } finally {
      for (const s of Object.values(sockets)) s.close();
    }
  });
});
