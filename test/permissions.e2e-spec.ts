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
 * conference; `otherHost` hosts another channel. Every allowed call gets its
 * exact success status (so a 500 or a stray 404 fails the cell); a refused one
 * gets 401/403 with a refusal code.
 */
describe('permission matrix', () => {
  let gw: RunningGateway;
  const tokens: Partial<Record<Role, string>> = {};
  let conferenceId = '';
  let mixTaskId = '';
  let sinkPublishUrl = '';

  beforeAll(async () => {
    gw = await startGateway();
    const token = async (body: object) => (await gw.admin('POST', '/api/v1/tokens', body)).body.token as string;
    tokens.expired = await token({ userId: 'late', role: 'host', channelId: 'own', ttlSeconds: 10 });
    const expiresAt = Date.now() + 10000;
    const own = (await gw.admin('POST', '/api/v1/channels', { id: 'own' })).body;
    await gw.admin('POST', '/api/v1/channels', { id: 'other' });
    sinkPublishUrl = (await gw.admin('POST', '/api/v1/channels', { id: 'sink' })).body.publishUrl;
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
  let sequence = Date.now();
  const ALL_USERS = (status: number): Partial<Record<Role, number>> => ({ admin: status, ownHost: status, otherHost: status, guest: status, viewer: status });
  const freshMixTask = async () => {
    const created = await call('ownHost', 'POST', '/api/v1/mix-tasks', { conferenceId, outputs: [{ url: sinkPublishUrl }] });
    expect(created.status).toBe(201);
    mixTaskId = created.body.id;
  };
  // Every allowed role's exact status: an allowed call that fails for any reason (a 500, a 404, a 400) fails the matrix.
  interface Row {
    method: string;
    path: () => string;
    body: () => unknown | Promise<unknown>;
    allowed: Partial<Record<Role, number>>;
    /** Runs before each allowed role's call, for routes whose allowed call ends its resource. */
    fresh?: () => Promise<void>;
    /** Undoes what an allowed call created (so no mix keeps running for the rest of the suite). */
    cleanup?: (response: { status: number; body: any }) => Promise<void>;
  }
  const routes: Row[] = [
    { method: 'POST', path: () => '/api/v1/tokens', body: () => ({ userId: 'u', role: 'viewer' }), allowed: { admin: 201 } },
    { method: 'POST', path: () => '/api/v1/channels', body: () => ({ title: 'x' }), allowed: { admin: 201 } },
    { method: 'GET', path: () => '/api/v1/channels', body: () => undefined, allowed: { admin: 200 } },
    { method: 'GET', path: () => '/api/v1/channels/own', body: () => undefined, allowed: ALL_USERS(200) },
    { method: 'POST', path: () => '/api/v1/channels/own/rotate-key', body: () => undefined, allowed: { admin: 200, ownHost: 200 } },
    { method: 'POST', path: () => '/api/v1/conferences', body: () => ({ title: 't' }), allowed: { admin: 201, ownHost: 201, otherHost: 201 } },
    { method: 'GET', path: () => '/api/v1/conferences', body: () => undefined, allowed: ALL_USERS(200) },
    { method: 'GET', path: () => `/api/v1/conferences/${conf()}`, body: () => undefined, allowed: { admin: 200, ownHost: 200, guest: 200 } },
    { method: 'POST', path: () => `/api/v1/conferences/${conf()}/members`, body: () => ({ userId: 'm1' }), allowed: { admin: 200, ownHost: 200 } },
    // The admin and the conference's host may ask for any user (admitting them); a member only for themself.
    { method: 'POST', path: () => `/api/v1/conferences/${conf()}/ingest`, body: () => ({ userId: 'guesty' }), allowed: { admin: 201, ownHost: 201, guest: 201 } },
    { method: 'GET', path: () => '/api/v1/mix-tasks', body: () => undefined, allowed: { admin: 200, ownHost: 200, otherHost: 200 } },
    { method: 'GET', path: () => `/api/v1/mix-tasks/${mixTaskId}`, body: () => undefined, allowed: { admin: 200, ownHost: 200 } },
    { method: 'PATCH', path: () => `/api/v1/mix-tasks/${mixTaskId}`, body: () => ({ sequence: (sequence += 1), layout: { mode: 'grid' } }), allowed: { admin: 200, ownHost: 200 } },
    {
      method: 'POST',
      path: () => '/api/v1/mix-tasks',
      body: () => ({ conferenceId: conf(), outputs: [{ url: sinkPublishUrl }] }),
      allowed: { admin: 201, ownHost: 201 },
      cleanup: async (response) => {
        if (response.status === 201) expect((await gw.admin('DELETE', `/api/v1/mix-tasks/${response.body.id}`)).status).toBe(200);
      },
    },
    { method: 'PUT', path: () => `/api/v1/conferences/${conf()}/live`, body: () => ({ channelId: 'other', onDemand: true }), allowed: { admin: 200 } },
    { method: 'GET', path: () => '/api/v1/live-map', body: () => undefined, allowed: { admin: 200 } },
    { method: 'GET', path: () => '/api/v1/directory', body: () => undefined, allowed: ALL_USERS(200) },
    { method: 'DELETE', path: () => `/api/v1/conferences/${conf()}/live`, body: () => undefined, allowed: { admin: 200 } },
    { method: 'GET', path: () => '/api/v1/admin/sfu', body: () => undefined, allowed: { admin: 200 } },
    { method: 'GET', path: () => '/api/v1/ice-servers', body: () => undefined, allowed: ALL_USERS(200) },
    // Destructive ones last, refused roles first; each allowed call ends a resource of its own.
    { method: 'DELETE', path: () => `/api/v1/mix-tasks/${mixTaskId}`, body: () => undefined, allowed: { admin: 200, ownHost: 200 }, fresh: freshMixTask },
  ];

  const label = (path: string) => path.replace('${conf()}', ':conference').replace('${mixTaskId}', ':mixTask');
  it.each(routes.map((r) => [`${r.method} ${label(r.path.toString().replace(/^\(\) => [`']|[`']$/g, ''))}`, r] as const))('%s', async (_label, row) => {
    const isAllowed = (role: Role) => row.allowed[role] !== undefined;
    const ordered = [...ROLES.filter((r) => !isAllowed(r)), ...ROLES.filter(isAllowed)];
    for (const role of ordered) {
      if (isAllowed(role)) await row.fresh?.();
      const res = await call(role, row.method, row.path(), await row.body());
      const code = res.body?.error?.code;
      if (isAllowed(role)) {
        expect({ role, status: res.status, code }).toEqual({ role, status: row.allowed[role], code: undefined });
        await row.cleanup?.(res);
      } else {
        expect({ role, refused: REFUSED.has(res.status), refusalCode: REFUSAL_CODES.has(code) }).toEqual({ role, refused: true, refusalCode: true });
        if (role === 'expired') expect(code).toBe('TOKEN_EXPIRED');
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
      // Each allowed role's exact ack; each refused role's refusal code.
      const events: [string, object, Partial<Record<Role, object>>, string][] = [
        ['cohost:invite', { channelId: 'own', userId: 'z1' }, { ownHost: { ok: true, invitationId: expect.stringMatching(/^inv_/), expiresAt: expect.any(String) } }, 'NOT_CHANNEL_HOST'],
        // Allowed, and refused for what it is: z1 was invited, not seated.
        ['cohost:kick', { channelId: 'own', userId: 'z1' }, { ownHost: { ok: false, error: { code: 'NOT_ON_MIC' } } }, 'NOT_CHANNEL_HOST'],
        ['cohost:mode', { channelId: 'own', mixMode: 'server' }, { ownHost: { ok: true, mixMode: 'server' } }, 'NOT_CHANNEL_HOST'],
        ['cohost:end', { channelId: 'own' }, { ownHost: { ok: true } }, 'NOT_CHANNEL_HOST'],
        ['media:join', { conferenceId: conferenceForMedia }, { ownHost: { ok: true, conferenceId: conferenceForMedia }, guest: { ok: true, conferenceId: conferenceForMedia } }, 'NOT_A_MEMBER'],
      ];
      for (const [event, payload, allowed, refusal] of events) {
        for (const role of ['otherHost', 'guest', 'viewer', 'ownHost'] as const) {
          const answer = await sockets[role].emitWithAck(event, payload);
          const expected = allowed[role] ?? { ok: false, error: { code: refusal } };
          expect({ event, role, answer }).toMatchObject({ event, role, answer: expected });
        }
      }
      // A viewer applies; a host cannot accept someone else's application on another channel.
      const applied = await sockets.viewer.emitWithAck('cohost:apply', { channelId: 'own' });
      expect(applied).toMatchObject({ ok: true });
      expect(await sockets.otherHost.emitWithAck('cohost:accept', { invitationId: applied.invitationId })).toMatchObject({ ok: false, error: { code: 'NOT_YOUR_MOVE' } });
      expect(await sockets.viewer.emitWithAck('cohost:accept', { invitationId: applied.invitationId })).toMatchObject({ ok: false, error: { code: 'NOT_YOUR_MOVE' } });
    } finally {
      for (const s of Object.values(sockets)) s.close();
    }
  });
});
