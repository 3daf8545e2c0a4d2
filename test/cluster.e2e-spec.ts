import type { Socket } from 'socket.io-client';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ask, connectAs, nextEvent, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { freePort, waitFor } from '../bench/support/processes';
import { TestRedis } from '../bench/support/redis';

/**
 * Cluster mode (REDIS_URL) with real parts: Debian's redis-server and three
 * built gateways as separate processes sharing it (and JWT_SECRET and
 * ADMIN_API_KEY). Proven here: the node registry (every node lists every
 * node, with its load; a node killed is gone 5 s after its last heartbeat, a
 * node stopped is gone at once), socket events that reach a user on another
 * node (socket.io's Redis streams adapter), and both going on through a Redis
 * restart, without restarting any node.
 */
interface NodeView {
  id: string;
  address: string;
  state: 'up' | 'gone';
  cpuBudget: number;
  cpuUsed: number;
  cpuReserved: number;
  conferences: number;
  mixTasks: number;
  lastSeen: string;
  silentForMs: number;
}

describe('gateway nodes on one Redis', () => {
  let redis: TestRedis;
  const nodes: RunningGateway[] = [];
  const sockets: Socket[] = [];

  const nodesSeenBy = async (gw: RunningGateway) => {
    const res = await gw.admin('GET', '/api/v1/admin/nodes');
    if (res.status !== 200) throw new Error(`GET /admin/nodes: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as NodeView[];
  };
  const stateOf = async (gw: RunningGateway, id: string) => (await nodesSeenBy(gw)).find((n) => n.id === id);

  beforeAll(async () => {
    redis = await TestRedis.start();
    const shared = { REDIS_URL: redis.url, JWT_SECRET: 'cluster-e2e-jwt-secret-0123456789abcdef', SFU_WORKERS: '1', EMBEDDED_ORIGIN_PROCESSES: '1', NODE_CPU_BUDGET: '1.5' };
    for (const id of ['n1', 'n2', 'n3']) nodes.push(await startGateway({ env: { ...shared, NODE_ID: id } }));
  }, 90000);

  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    for (const gw of nodes) {
      await gw.stop().catch(() => undefined);
      removeDir(gw.dataDir);
    }
    await redis?.stop();
    if (redis) removeDir(redis.dir);
  });

  it('a node that cannot reach REDIS_URL does not start, and says why (the password never shown)', async () => {
    const closed = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'gw-e2e-'));
    const started = startGateway({ dataDir, env: { REDIS_URL: `redis://user:hunter2-secret@127.0.0.1:${closed}`, JWT_SECRET: 'cluster-e2e-jwt-secret-0123456789abcdef', SFU_WORKERS: '1', EMBEDDED_ORIGIN_PROCESSES: '1' } });
    const error = await started.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/cannot reach REDIS_URL redis:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:\d+/);
    expect(error?.message).not.toContain('hunter2');
    removeDir(dataDir);
  }, 30000);

  it('every node lists every node, up, with its address, CPU budget and load', async () => {
    const [n1, n2] = nodes;
    await (await n2.admin('POST', '/api/v1/conferences', { title: 'on n2' })).body;
    const views = await waitFor('n1 to see n2 holding its conference', async () => {
      const v = await nodesSeenBy(n1);
      return v.find((n) => n.id === 'n2')?.conferences === 1 ? v : undefined;
    }, 10000);
    expect(views.map((n) => [n.id, n.state, n.address])).toEqual(nodes.map((gw, i) => [`n${i + 1}`, 'up', gw.baseUrl]));
    for (const n of views) {
      expect(n.cpuBudget).toBe(1.5);
      expect(n.cpuReserved).toBe(0);
      expect(n.cpuUsed).toBeGreaterThanOrEqual(0);
      expect(n.silentForMs).toBeLessThan(3000);
    }
    expect(views.find((n) => n.id === 'n1')?.conferences).toBe(0);
    // Every node answers the same (one registry), and only admins may read it.
    expect((await nodesSeenBy(n2)).map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
    expect((await n1.request('GET', '/api/v1/admin/nodes')).status).toBe(401);
    expect(n1.output()).toContain('cluster     node n1 on redis://127.0.0.1:');
  });

  it("a host's invitation on one node reaches the guest on another, also after Redis restarts", async () => {
    const [n1, n2] = nodes;
    expect((await n1.admin('POST', '/api/v1/channels', { id: 'studio', title: 'Studio' })).status).toBe(201);
    const host = await connectAs(n1, 'anchor', 'host', 'studio');
    // The guest's token comes from the other node: one JWT_SECRET, one cluster.
    const guest = await connectAs(n2, 'guest1', 'viewer');
    sockets.push(host, guest);

    const invitedSeen = nextEvent(guest, 'cohost:invited');
    const invited = await ask(host, 'cohost:invite', { channelId: 'studio', userId: 'guest1' });
    expect(invited).toMatchObject({ ok: true, invitationId: expect.stringMatching(/^inv_/) });
    expect(await invitedSeen).toMatchObject({ invitationId: invited.invitationId, from: 'anchor', channelId: 'studio' });
    const cancelledSeen = nextEvent(guest, 'cohost:cancelled');
    expect(await ask(host, 'cohost:cancel', { invitationId: invited.invitationId })).toEqual({ ok: true });
    expect(await cancelledSeen).toMatchObject({ invitationId: invited.invitationId });

    // Redis restarts (its append-only file keeps what it acknowledged); no node restarts.
    await redis.restart();
    const after = await waitFor('an invitation across nodes after the Redis restart', async () => {
      const seen = nextEvent(guest, 'cohost:invited', 2000);
      const again = await ask(host, 'cohost:invite', { channelId: 'studio', userId: 'guest1' });
      if (!again.ok) throw new Error(JSON.stringify(again));
      const event = await seen.catch(() => undefined);
      if (!event) await ask(host, 'cohost:cancel', { invitationId: again.invitationId });
      return event && { event, again };
    }, 20000);
    expect(after.event).toMatchObject({ invitationId: after.again.invitationId });
    // The registry carries on too: every node heartbeats again.
    await waitFor('fresh heartbeats of every node', async () => {
      const v = await nodesSeenBy(n2).catch(() => undefined);
      return v && v.length === 3 && v.every((n) => n.state === 'up' && n.silentForMs < 2000) ? true : undefined;
    }, 15000);
    expect(n1.child.exitCode).toBeNull();
  }, 60000);

  it("a guest on another node answers the host's invitation there: accept, a race with the host's cancel (one winner), apply, reject, leave", async () => {
    const [n1, n2, n3] = nodes;
    expect((await n1.admin('POST', '/api/v1/channels', { id: 'stage', title: 'Stage' })).status).toBe(201);
    const host = await connectAs(n1, 'boss', 'host', 'stage');
    const guest = await connectAs(n2, 'amy', 'viewer');
    const other = await connectAs(n2, 'ben', 'viewer');
    const fan = await connectAs(n3, 'cat', 'viewer');
    sockets.push(host, guest, other, fan);

    // Accept on n2 of an invitation held by n1.
    const invitedSeen = nextEvent(guest, 'cohost:invited');
    const invited = await ask(host, 'cohost:invite', { channelId: 'stage', userId: 'amy' });
    await invitedSeen;
    const startedAtHost = nextEvent(host, 'cohost:started');
    const startedAtGuest = nextEvent(guest, 'cohost:started');
    const accepted = await ask(guest, 'cohost:accept', { invitationId: invited.invitationId });
    expect(accepted).toMatchObject({ ok: true, conferenceId: expect.any(String) });
    expect(await startedAtHost).toEqual({ channelId: 'stage', conferenceId: accepted.conferenceId });
    expect(await startedAtGuest).toEqual({ channelId: 'stage', conferenceId: accepted.conferenceId });
    expect((await n1.admin('GET', '/api/v1/channels/stage')).body).toMatchObject({ state: 'cohosting', conferenceId: accepted.conferenceId });
    // A refusal on the holding node comes back typed.
    expect(await ask(guest, 'cohost:accept', { invitationId: invited.invitationId })).toMatchObject({ ok: false, error: { code: 'INVITATION_ACCEPTED' } });
    // Nobody holds this one: the local answer stands.
    expect(await ask(guest, 'cohost:accept', { invitationId: 'inv_nowhere' })).toMatchObject({ ok: false, error: { code: 'INVITATION_NOT_FOUND' } });

    // The guest's accept on n2 races the host's cancel on n1: exactly one wins, n1 decides.
    const second = await ask(host, 'cohost:invite', { channelId: 'stage', userId: 'ben' });
    expect(second.ok).toBe(true);
    const [accept, cancel] = await Promise.all([ask(other, 'cohost:accept', { invitationId: second.invitationId }), ask(host, 'cohost:cancel', { invitationId: second.invitationId })]);
    expect([accept.ok, cancel.ok].filter(Boolean)).toHaveLength(1);
    process.stdout.write(`cluster: accept on n2 vs cancel on n1: ${accept.ok ? 'accept' : 'cancel'} won\n`);
    const desk = ((await n1.admin('GET', '/api/v1/cohost/desks')).body as { channelId: string; guests: string[]; invitations: { invitationId: string; state: string }[] }[]).find((d) => d.channelId === 'stage')!;
    expect(desk.invitations.find((i) => i.invitationId === second.invitationId)?.state).toBe(accept.ok ? 'accepted' : 'cancelled');
    expect(desk.guests.includes('ben')).toBe(accept.ok);

    // A viewer on n3 applies to the channel held by n1; the host rejects; the viewer hears it on n3.
    const appliedSeen = nextEvent(host, 'cohost:applied');
    const applied = await ask(fan, 'cohost:apply', { channelId: 'stage' });
    expect(applied).toMatchObject({ ok: true, invitationId: expect.stringMatching(/^inv_/) });
    expect(await appliedSeen).toMatchObject({ invitationId: applied.invitationId, from: 'cat' });
    const rejectedSeen = nextEvent(fan, 'cohost:rejected');
    expect(await ask(host, 'cohost:reject', { invitationId: applied.invitationId })).toEqual({ ok: true });
    expect(await rejectedSeen).toMatchObject({ invitationId: applied.invitationId });

    // The guest leaves from n2.
    const leftSeen = nextEvent(host, 'cohost:left');
    expect(await ask(guest, 'cohost:leave', { channelId: 'stage' })).toEqual({ ok: true });
    expect(await leftSeen).toMatchObject({ channelId: 'stage', userId: 'amy' });
    expect(n2.output()).not.toMatch(/forwarded cohost\.\w+: .*Error/);
  }, 60000);

  it('a node stopped is gone at once; a node killed is gone 5 s after its last heartbeat', async () => {
    const [n1, n2, n3] = nodes;
    await n3.stop('SIGTERM');
    expect((await stateOf(n1, 'n3'))?.state).toBe('gone');

    await waitFor('n2 just heard', async () => ((await stateOf(n1, 'n2'))!.silentForMs < 300 ? true : undefined), 5000);
    const killedAt = Date.now();
    // Its children are orphaned by the kill: stop() ends them, and says so.
    await n2.stop('SIGKILL').catch((error: Error) => {
      if (!/left processes behind/.test(error.message)) throw error;
    });
    const goneAt = await waitFor('n2 gone', async () => ((await stateOf(n1, 'n2'))?.state === 'gone' ? Date.now() : undefined), 10000);
    process.stdout.write(`cluster: n2 killed, listed gone ${goneAt - killedAt} ms later\n`);
    // Not before 5 s of silence; within a heartbeat and a poll after it.
    expect(goneAt - killedAt).toBeGreaterThanOrEqual(4700);
    expect(goneAt - killedAt).toBeLessThan(6500);
    const views = await nodesSeenBy(n1);
    expect(views.map((n) => [n.id, n.state])).toEqual([
      ['n1', 'up'],
      ['n2', 'gone'],
      ['n3', 'gone'],
    ]);
  }, 30000);
});
